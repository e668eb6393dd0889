package io.enclave.cli;

import java.lang.reflect.Constructor;
import picocli.CommandLine;

/** Makes picocli's command objects, handing the run's {@link Session} to those that take one. */
final class CommandFactory implements CommandLine.IFactory {
    private final Session session;
    private final CommandLine.IFactory fallback = CommandLine.defaultFactory();

    CommandFactory(Session session) {
        this.session = session;
    }

    @Override
    public <K> K create(Class<K> type) throws Exception {
        for (Constructor<?> constructor : type.getDeclaredConstructors()) {
            Class<?>[] parameters = constructor.getParameterTypes();
            if (parameters.length == 1 && parameters[0] == Session.class) {
                constructor.setAccessible(true);
                return type.cast(constructor.newInstance(session));
            }
        }
        return fallback.create(type);
    }
}
