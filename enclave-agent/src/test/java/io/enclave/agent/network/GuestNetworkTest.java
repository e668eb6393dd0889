package io.enclave.agent.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.GuestAgentClient;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.ExecResult;
import io.enclave.core.host.HostInfo;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.network.Network;
import io.enclave.core.network.Nic;
import io.enclave.core.network.PortForward;
import io.enclave.core.network.Protocol;
import io.enclave.core.network.TenantNetworking;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/** One real guest (QEMU TCG, the default image) on a tenant network behind the light firewall. */
class GuestNetworkTest {
    static final Path IMAGE = Path.of("/var/cache/enclave/images/default");
    static final String PUBLIC_IP = "198.18.0.30";
    static final String EXTERNAL = "198.18.0.100";

    @Test
    void guestLeasesReachesOutsideAndIsReachableOnlyThroughItsForward() throws Exception {
        assumeTrue(Files.exists(IMAGE.resolve("vmlinuz")), "default guest image not built");
        String vmId = String.format("vm-e3%010x", ThreadLocalRandom.current().nextLong(1L << 40));
        TenantNetworking t = new TenantNetworking("ent3-tg", PUBLIC_IP, List.of(Network.of("net-g", "guests", "10.9.0.0/24")),
                List.of(new Nic(vmId, "net-g", "52:54:00:e3:00:01", "10.9.0.10", "guest1")), List.of(),
                List.of(new PortForward("pf-guest", Protocol.TCP, 8080, vmId, "net-g", 80, null)), List.of(), List.of());
        try (NetLab lab = new NetLab()) {
            lab.driver.ensurePublicNetwork(NetLab.PUBLIC);
            lab.apply(t);
            NicAttachment nic = lab.driver.nicAttachment(t, vmId, "net-g");
            QemuHostAgent agent = new QemuHostAgent(new HostInfo("h1", "h1", 2, 1024, "tcg"), lab.dir.resolve("vms"),
                    lab.runner, Accelerator.TCG, "qemu-system-x86_64");
            BootImage image = new BootImage(IMAGE.resolve("disk.qcow2").toString(), "qcow2", IMAGE.resolve("vmlinuz").toString(),
                    IMAGE.resolve("initrd.img").toString(), "console=ttyS0 root=/dev/vda rw quiet", true);
            try {
                long t0 = System.nanoTime();
                agent.start(new VmRuntimeSpec(vmId, t.tenantId(), "guest1", 1, 256, 1, image, List.of(nic.nic()), nic.netns()));
                GuestAgentClient qga = new GuestAgentClient(lab.dir.resolve("vms").resolve(vmId).resolve("qga.sock"));
                long deadline = System.nanoTime() + Duration.ofSeconds(45).toNanos();
                while (!qga.ping(Duration.ofMillis(500))) {
                    assertThat(System.nanoTime()).as("guest agent answers within 45 s").isLessThan(deadline);
                    Thread.sleep(250);
                }
                System.out.printf("guest agent up after %d ms%n", (System.nanoTime() - t0) / 1_000_000);

                ExecResult dhcp = qga.exec(List.of("/sbin/udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-T", "2"), Duration.ofSeconds(20));
                assertThat(dhcp.stdout() + dhcp.stderr()).contains("lease of 10.9.0.10 obtained");
                assertThat(qga.exec(List.of("/sbin/ip", "addr", "show", "eth0"), Duration.ofSeconds(5)).stdout())
                        .contains("inet 10.9.0.10/24").contains("mtu 1450");
                assertThat(qga.exec(List.of("/bin/ping", "-c", "1", "-W", "3", "10.9.0.1"), Duration.ofSeconds(10)).exitCode()).isZero();
                assertThat(qga.exec(List.of("/usr/bin/nslookup", "guest1", "10.9.0.1"), Duration.ofSeconds(10)).stdout()).contains("10.9.0.10");

                String ext = lab.external(EXTERNAL);
                lab.background(ext, "serve", "9000", "ext");
                ExecResult out = qga.exec(List.of("/bin/sh", "-c", "/usr/bin/nc " + EXTERNAL + " 9000 </dev/null"), Duration.ofSeconds(10));
                assertThat(out.stdout()).contains("ext from-peer=" + PUBLIC_IP);

                qga.exec(List.of("/bin/sh", "-c", "printf '#!/bin/sh\\necho guest-web\\n' > /tmp/web; chmod +x /tmp/web; "
                        + "/usr/bin/nc -ll -p 80 -e /tmp/web </dev/null >/dev/null 2>&1 &"), Duration.ofSeconds(5));
                assertThat(lab.tool(ext, "connect", PUBLIC_IP, "8080", "5").stdout()).contains("guest-web");
                lab.ok("ip", "-n", ext, "route", "add", "10.9.0.0/24", "via", PUBLIC_IP);
                assertThat(lab.tool(ext, "connect", "10.9.0.10", "80", "2").ok()).isFalse();
                assertThat(lab.driver.ruleCounters(t.tenantId()).get("pf-guest").packets()).isEqualTo(1);
                System.out.printf("guest test done after %d ms%n", (System.nanoTime() - t0) / 1_000_000);
            } finally {
                agent.destroy(vmId);
            }
        }
    }
}
