package io.enclave.agent.network;

import io.enclave.agent.exec.CommandRunner;
import io.enclave.core.error.EnclaveException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The public network's optional uplink ({@code PublicNetwork.uplink}): a host interface moved from the
 * underlay namespace (the agent's own when the driver has no {@link Underlay} or its namespace is null) into
 * the public namespace onto the public bridge, and moved back when it stops being the uplink or the public
 * network goes. Its name is recorded in {@code stateFile} before it is moved, so a restarted agent still
 * knows what to give back. Moving an interface drops its addresses: the uplink must be a dedicated one.
 */
final class PublicUplink {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final CommandRunner runner;
    private final NetNames names;
    private final Underlay underlay;
    private final Path stateFile;

    PublicUplink(CommandRunner runner, NetNames names, Underlay underlay, Path stateFile) {
        this.runner = runner;
        this.names = names;
        this.underlay = underlay;
        this.stateFile = stateFile;
    }

    /** Refuses an uplink that is in neither the home namespace nor the public namespace (before anything changes). */
    void requireAvailable(String wanted, Map<String, LinuxNetworkDriver.Link> publicLinks) {
        if (wanted == null || publicLinks.containsKey(wanted)) return;
        if (!runner.run(ip(homeNamespace(), "link", "show", "dev", wanted), TIMEOUT).ok()) {
            throw new EnclaveException.InvalidRequest("uplink", "no interface '" + wanted + "' in " + homeDescription()
                    + " nor in the public namespace " + names.publicNamespace());
        }
    }

    /**
     * Makes {@code wanted} (null: none) the uplink: gives back a previous one, moves {@code wanted} into the
     * public namespace if it is not there yet, and puts it on the bridge with {@code mtu}, up.
     *
     * @param publicLinks the public namespace's links as just read
     */
    void converge(String wanted, int mtu, Map<String, LinuxNetworkDriver.Link> publicLinks) {
        String current = recorded();
        if (current != null && !current.equals(wanted)) release(current, publicLinks);
        if (wanted == null) return;
        String pns = names.publicNamespace();
        LinuxNetworkDriver.Link l = publicLinks.get(wanted);
        if (l == null) {
            record(wanted);
            runner.runChecked(ip(homeNamespace(), "link", "set", "dev", wanted, "netns", pns), TIMEOUT);
        }
        String br = names.publicBridge();
        if (l == null || !br.equals(l.master()) || l.mtu() != mtu || !l.up()) {
            runner.runChecked(ip(pns, "link", "set", "dev", wanted, "master", br, "mtu", Integer.toString(mtu), "up"), TIMEOUT);
        }
        record(wanted);
    }

    /** Gives the recorded uplink back to its home namespace (before the public namespace is deleted). */
    void releaseAll(Map<String, LinuxNetworkDriver.Link> publicLinks) {
        String current = recorded();
        if (current != null) release(current, publicLinks);
    }

    private void release(String name, Map<String, LinuxNetworkDriver.Link> publicLinks) {
        if (publicLinks.containsKey(name)) {
            String pns = names.publicNamespace();
            runner.runChecked(ip(pns, "link", "set", "dev", name, "nomaster"), TIMEOUT);
            // A named namespace, or the agent's own by its pid (ip resolves a number as a process's namespace).
            String home = homeNamespace() != null ? homeNamespace() : Long.toString(ProcessHandle.current().pid());
            runner.runChecked(ip(pns, "link", "set", "dev", name, "netns", home), TIMEOUT);
        }
        try {
            Files.deleteIfExists(stateFile);
        } catch (IOException e) {
            throw new IllegalStateException("cannot delete " + stateFile + ": " + e.getMessage(), e);
        }
    }

    private String homeNamespace() {
        return underlay == null ? null : underlay.namespace();
    }

    private String homeDescription() {
        return homeNamespace() == null ? "the agent's namespace" : "namespace " + homeNamespace();
    }

    private static List<String> ip(String ns, String... args) {
        List<String> argv = new ArrayList<>(ns == null ? List.of("ip") : List.of("ip", "-n", ns));
        argv.addAll(List.of(args));
        return argv;
    }

    private String recorded() {
        try {
            return Files.exists(stateFile) ? Files.readString(stateFile).strip() : null;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + stateFile + ": " + e.getMessage(), e);
        }
    }

    private void record(String name) {
        try {
            if (!name.equals(recorded())) Files.writeString(stateFile, name + "\n");
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + stateFile + ": " + e.getMessage(), e);
        }
    }
}
