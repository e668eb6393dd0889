package io.enclave.server.testing;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.network.NetNames;
import java.time.Duration;
import java.util.List;

/**
 * "The outside world" for network tests: a namespace of the test's own, attached to the platform's
 * public bridge, with an address on the public network. No traffic leaves the machine.
 */
public final class OutsideWorld implements AutoCloseable {
    public static final String IP = "198.51.100.200";
    private static final ProcessCommandRunner SH = new ProcessCommandRunner();

    public final String namespace;

    public OutsideWorld(NetNames names) {
        String prefix = names.prefix();
        this.namespace = prefix + "-ext";
        SH.run(List.of("ip", "netns", "del", namespace), Duration.ofSeconds(10));
        SH.runChecked("ip", "netns", "add", namespace);
        SH.runChecked("ip", "link", "add", prefix + "x0", "type", "veth", "peer", "name", prefix + "x1");
        SH.runChecked("ip", "link", "set", prefix + "x0", "netns", namespace);
        SH.runChecked("ip", "link", "set", prefix + "x1", "netns", names.publicNamespace());
        SH.runChecked("ip", "-n", names.publicNamespace(), "link", "set", prefix + "x1", "master", names.publicBridge(), "up");
        SH.runChecked("ip", "-n", namespace, "addr", "add", IP + "/24", "dev", prefix + "x0");
        SH.runChecked("ip", "-n", namespace, "link", "set", prefix + "x0", "up");
        SH.runChecked("ip", "-n", namespace, "link", "set", "lo", "up");
    }

    /** GET a URL from outside; at most 3 s. */
    public CommandResult curl(String url) {
        return SH.run(List.of("ip", "netns", "exec", namespace, "curl", "-s", "--max-time", "3", url), Duration.ofSeconds(10));
    }

    public CommandResult run(String... command) {
        return SH.run(List.of(command), Duration.ofSeconds(20));
    }

    @Override
    public void close() {
        SH.run(List.of("ip", "netns", "del", namespace), Duration.ofSeconds(10));
    }
}
