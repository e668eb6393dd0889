package io.enclave.agent.network.kernel;

import com.sun.jna.LastErrorException;
import io.enclave.agent.exec.CommandRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Named network namespaces ({@code /run/netns/NAME}, the same ones {@code ip netns} makes) created and
 * entered from the agent's own process, without starting {@code ip}: a process start costs several
 * milliseconds here and a tenant's create needs several of them.
 *
 * <p>Namespaces belong to threads: each call runs on a fresh platform thread that enters (or unshares)
 * the namespace and then ends, so no pooled thread is ever left in a tenant's namespace.
 */
public final class NetNamespaces {
    private static final Logger log = LoggerFactory.getLogger(NetNamespaces.class);
    static final Path DIR = Path.of("/run/netns");

    private final CommandRunner runner;

    public NetNamespaces(CommandRunner runner) {
        this.runner = runner;
    }

    public boolean exists(String ns) {
        return Files.exists(DIR.resolve(ns));
    }

    /**
     * Creates namespace {@code ns} with the given sysctls ({@code net.ipv4.ip_forward=1} style) set in it;
     * on any failure nothing is left behind. The first namespace on a machine is made by {@code ip netns add}:
     * it also makes {@code /run/netns} the shared mount point that later bind mounts go to.
     */
    public void create(String ns, List<String> sysctls) {
        requireName(ns);
        if (!sharedMountReady()) {
            runner.runChecked(List.of("ip", "netns", "add", ns), Duration.ofSeconds(30));
            try {
                inside(ns, () -> {
                    writeSysctls(sysctls);
                    return null;
                });
            } catch (RuntimeException e) {
                runner.run(List.of("ip", "netns", "delete", ns), Duration.ofSeconds(30));
                throw e;
            }
            return;
        }
        onOwnThread("create network namespace " + ns, () -> {
            Path file = DIR.resolve(ns);
            Files.createFile(file);
            boolean mounted = false;
            try {
                LibC.INSTANCE.unshare(LibC.CLONE_NEWNET);
                LibC.INSTANCE.mount("/proc/thread-self/ns/net", file.toString(), "none", LibC.MS_BIND, null);
                mounted = true;
                writeSysctls(sysctls);
                return null;
            } catch (IOException | RuntimeException e) {
                if (mounted) LibC.INSTANCE.umount2(file.toString(), LibC.MNT_DETACH);
                Files.deleteIfExists(file);
                throw e;
            }
        });
        log.debug("network namespace {} created ({})", ns, String.join(" ", sysctls));
    }

    /** Runs {@code work} on a thread inside namespace {@code ns}; sockets and /proc/sys/net it opens are that namespace's. */
    public <T> T inside(String ns, Callable<T> work) {
        requireName(ns);
        return onOwnThread("enter network namespace " + ns, () -> {
            int fd = LibC.INSTANCE.open(DIR.resolve(ns).toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
            try {
                LibC.INSTANCE.setns(fd, LibC.CLONE_NEWNET);
            } finally {
                LibC.INSTANCE.close(fd);
            }
            return work.call();
        });
    }

    /** Sets sysctls ({@code net.ipv4.ip_forward=1} style) in namespace {@code ns}. */
    public void sysctl(String ns, List<String> sysctls) {
        inside(ns, () -> {
            writeSysctls(sysctls);
            return null;
        });
    }

    /** Sets sysctls of the calling thread's network namespace by writing /proc/sys. */
    private static void writeSysctls(List<String> sysctls) throws IOException {
        for (String s : sysctls) {
            int eq = s.indexOf('=');
            if (eq < 1 || !s.startsWith("net.")) throw new IllegalArgumentException("not a net sysctl: " + s);
            Path file = Path.of("/proc/sys", s.substring(0, eq).replace('.', '/'));
            Files.writeString(file, s.substring(eq + 1));
        }
    }

    private static boolean sharedMountReady() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 6 && f[4].equals(DIR.toString())) return line.contains(" shared:");
            }
        } catch (IOException e) {
            log.warn("cannot read /proc/self/mountinfo: {}", e.getMessage());
        }
        return false;
    }

    private static void requireName(String ns) {
        if (!ns.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")) throw new IllegalArgumentException("bad namespace name " + ns);
    }

    private static <T> T onOwnThread(String what, Callable<T> work) {
        FutureTask<T> task = new FutureTask<>(work);
        Thread t = Thread.ofPlatform().name("netns-" + what.substring(what.lastIndexOf(' ') + 1)).unstarted(task);
        t.start();
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted: " + what, e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof LastErrorException le) {
                throw new IllegalStateException("cannot " + what + ": " + LibC.INSTANCE.strerror(le.getErrorCode()), le);
            }
            if (c instanceof RuntimeException re) throw re;
            throw new IllegalStateException("cannot " + what + ": " + c.getMessage(), c);
        }
    }
}
