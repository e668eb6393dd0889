package io.enclave.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Runs {@link EnclaveCli#run} and captures what it printed. */
final class Cli {
    record Result(int exitCode, String out, String err) {}

    private Cli() {}

    static Result run(Map<String, String> env, String... args) {
        return run(false, env, args);
    }

    static Result run(boolean terminal, Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8);
        int code = terminal
                ? EnclaveCli.run(args, outStream, errStream, env, true)
                : EnclaveCli.run(args, outStream, errStream, env);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
