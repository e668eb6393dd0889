package io.enclave.agent.network.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.enclave.agent.exec.CommandResult;
import io.enclave.agent.exec.ProcessCommandRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Namespaces made and entered from the agent's process, and nftables through libnftables, against the real
 * kernel: what they make must be what {@code ip netns} and {@code nft} see, and nothing may leak into the
 * machine's own namespace. Every name starts with "enk".
 */
class KernelAccessTest {
    static final String NS = "enk-a";
    static final String NS2 = "enk-b";
    static final ProcessCommandRunner SH = new ProcessCommandRunner();

    final NetNamespaces namespaces = new NetNamespaces(SH);
    final Nftables nft = new Nftables(namespaces);

    @TempDir
    Path tmp;

    @AfterEach
    void cleanUp() {
        for (String ns : List.of(NS, NS2)) SH.run(List.of("ip", "netns", "delete", ns), Duration.ofSeconds(10));
    }

    @Test
    void aCreatedNamespaceIsAnIpNetnsWithItsOwnSysctls() {
        String rootIpv6 = sysctl(null, "net.ipv6.conf.default.disable_ipv6");
        namespaces.create(NS, List.of("net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.ip_forward=1"));

        assertThat(namespaces.exists(NS)).isTrue();
        assertThat(SH.runChecked(List.of("ip", "netns", "list"), Duration.ofSeconds(5)).stdout()).contains(NS);
        assertThat(sysctl(NS, "net.ipv6.conf.default.disable_ipv6")).isEqualTo("1");
        assertThat(sysctl(NS, "net.ipv4.ip_forward")).isEqualTo("1");
        assertThat(sysctl(null, "net.ipv6.conf.default.disable_ipv6")).as("the machine's own setting").isEqualTo(rootIpv6);
        // A link made there is in that namespace only.
        SH.runChecked(List.of("ip", "-n", NS, "link", "add", "enk0", "type", "bridge"), Duration.ofSeconds(5));
        assertThat(SH.run(List.of("ip", "link", "show", "enk0"), Duration.ofSeconds(5)).ok()).isFalse();

        namespaces.sysctl(NS, List.of("net.ipv4.ip_forward=0"));
        assertThat(sysctl(NS, "net.ipv4.ip_forward")).isEqualTo("0");
    }

    @Test
    void aFailedCreateLeavesNoNamespaceAndAnExistingOneIsRefused() {
        assertThatThrownBy(() -> namespaces.create(NS, List.of("net.ipv4.no_such_setting=1")))
                .hasMessageContaining("no_such_setting");
        assertThat(namespaces.exists(NS)).isFalse();
        assertThat(SH.runChecked(List.of("ip", "netns", "list"), Duration.ofSeconds(5)).stdout()).doesNotContain(NS);

        namespaces.create(NS, List.of());
        assertThatThrownBy(() -> namespaces.create(NS, List.of())).hasMessageContaining(NS);
        assertThat(SH.run(List.of("ip", "netns", "exec", NS, "true"), Duration.ofSeconds(5)).ok()).as("still usable").isTrue();
        assertThatThrownBy(() -> namespaces.create("../etc", List.of())).hasMessageContaining("bad namespace name");
        assertThatThrownBy(() -> namespaces.sysctl(NS2, List.of("net.ipv4.ip_forward=1"))).hasMessageContaining(NS2);
    }

    @Test
    void aScriptIsAppliedInTheNamespaceAtomicallyAndABadOneChangesNothing() throws Exception {
        namespaces.create(NS, List.of());
        namespaces.create(NS2, List.of());
        Path good = tmp.resolve("good.nft");
        Files.writeString(good, """
                table inet enk {
                    counter hits { }
                    chain input { type filter hook input priority 0; policy accept; tcp dport 7 counter name hits drop; }
                }
                """);
        nft.applyFile(NS, good);

        assertThat(ruleset(NS)).contains("table inet enk", "dport 7");
        assertThat(ruleset(NS2)).doesNotContain("enk");
        assertThat(ruleset(null)).doesNotContain("table inet enk");
        assertThat(nft.json(NS, "list counters table inet enk")).get().asString().contains("\"name\": \"hits\"");
        assertThat(nft.json(NS2, "list counters table inet enk")).as("no such table there").isEmpty();

        Path bad = tmp.resolve("bad.nft");
        Files.writeString(bad, """
                flush ruleset
                table inet other { chain c { type filter hook input priority 0; } }
                table inet enk { chain input { tcp dport 70000 drop; } }
                """);
        assertThatThrownBy(() -> nft.applyFile(NS, bad)).isInstanceOf(Nftables.NftException.class)
                .hasMessageContaining(bad.toString()).hasMessageContaining(NS).hasMessageContaining("70000");
        assertThat(ruleset(NS)).as("the whole script was refused").contains("dport 7").doesNotContain("other");
    }

    private static String ruleset(String ns) {
        List<String> cmd = ns == null ? List.of("nft", "list", "ruleset") : List.of("ip", "netns", "exec", ns, "nft", "list", "ruleset");
        return SH.runChecked(cmd, Duration.ofSeconds(5)).stdout();
    }

    private static String sysctl(String ns, String key) {
        List<String> cmd = ns == null ? List.of("sysctl", "-n", key) : List.of("ip", "netns", "exec", ns, "sysctl", "-n", key);
        CommandResult r = SH.runChecked(cmd, Duration.ofSeconds(5));
        return r.stdout().strip();
    }
}
