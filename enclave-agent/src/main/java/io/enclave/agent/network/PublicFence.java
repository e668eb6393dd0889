package io.enclave.agent.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.enclave.agent.exec.CommandRunner;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes this host's tenant firewalls off the public network: their ports on the public bridge go down, the
 * bridge itself, its VXLAN, its uplink and anything else on it stay. Used when the host is cut off from the
 * controller, which may meanwhile move the firewalls (and their public addresses) to another host.
 */
public final class PublicFence {
    private static final Logger log = LoggerFactory.getLogger(PublicFence.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();

    private PublicFence() {}

    /**
     * Sets down every port on the public bridge whose name is a firewall's public port of this host (the name
     * prefix, then {@code kind}, then a 10-hex-digit tag) and returns their names.
     */
    public static List<String> isolate(CommandRunner runner, NetNames names, char kind) {
        String ns = names.publicNamespace();
        String bridge = names.publicBridge();
        Pattern firewallPort = Pattern.compile(Pattern.quote(names.prefix()) + kind + "[0-9a-f]{10}");
        var listed = runner.run(List.of("ip", "-n", ns, "-j", "link", "show", "master", bridge), TIMEOUT);
        if (!listed.ok()) return List.of(); // no public network on this host: nothing to isolate
        List<String> down = new ArrayList<>();
        try {
            for (JsonNode link : JSON.readTree(listed.stdout().isBlank() ? "[]" : listed.stdout())) {
                String name = link.path("ifname").asText();
                if (!firewallPort.matcher(name).matches()) continue;
                runner.runChecked(List.of("ip", "-n", ns, "link", "set", name, "down"), TIMEOUT);
                down.add(name);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot parse the ports of " + bridge + " in " + ns + ": " + e.getMessage(), e);
        }
        if (!down.isEmpty()) log.warn("firewall ports {} taken off the public network {}", down, bridge);
        return down;
    }
}
