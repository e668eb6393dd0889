package io.enclave.agent.fence;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.agent.exec.ProcessCommandRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real watchdog script against stand-in QEMUs (processes whose command line carries the VM's
 * {@code process=enclave-<vm>} marker, as QEMU's {@code -name} does): nothing is killed while the lease is renewed;
 * once it is not, exactly the shared-storage VMs' processes die.
 */
class FenceWatchdogTest {
    Path data;
    final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        data = Files.createTempDirectory("enfw-");
    }

    @AfterEach
    void tearDown() throws IOException {
        processes.forEach(Process::destroyForcibly);
        Path pidFile = data.resolve("fence/watchdog.pid");
        if (Files.exists(pidFile)) {
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            Files.delete(pidFile); // the watchdog exits within a second when its pidfile is gone
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        try (Stream<Path> walk = Files.walk(data)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aLeaseNoLongerRenewedGetsTheSharedStorageQemusKilledAndNothingElse() throws Exception {
        Process shared = fakeQemu("vm-shared", true);
        Process local = fakeQemu("vm-local", false);
        // a pidfile that names a process that is not that VM's QEMU (a reused pid)
        Process stranger = new ProcessBuilder("sleep", "300").start();
        processes.add(stranger);
        Files.createDirectories(data.resolve("vms/vm-reused"));
        Files.writeString(data.resolve("vms/vm-reused/disk-dir"), "/shared/vms/vm-reused");
        Files.writeString(data.resolve("vms/vm-reused/qemu.pid"), Long.toString(stranger.pid()));

        FenceWatchdog lease = FenceWatchdog.start(data, Duration.ofSeconds(2), new ProcessCommandRunner());
        long watchdogPid = Long.parseLong(Files.readString(data.resolve("fence/watchdog.pid")).strip());
        assertThat(ProcessHandle.of(watchdogPid)).isPresent();
        // a second start (an agent restart) keeps the running watchdog
        FenceWatchdog.start(data, Duration.ofSeconds(2), new ProcessCommandRunner()).close();
        assertThat(Long.parseLong(Files.readString(data.resolve("fence/watchdog.pid")).strip())).isEqualTo(watchdogPid);

        Thread.sleep(4500);
        assertThat(shared.isAlive()).as("lease renewed: nothing killed").isTrue();

        lease.close(); // the agent is gone
        assertThat(shared.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).as("the shared-storage QEMU was killed").isTrue();
        assertThat(local.isAlive()).as("a VM on the host's own disk is nobody else's to restart").isTrue();
        assertThat(stranger.isAlive()).as("a pid that is not the VM's QEMU").isTrue();
        String logged = "killed QEMU " + shared.pid() + " of vm vm-shared";
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos(); // written just after the kill
        while (!Files.readString(data.resolve("fence/watchdog.log")).contains(logged) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(Files.readString(data.resolve("fence/watchdog.log"))).contains(logged);
    }

    /** A process standing in for a VM's QEMU, with the VM's directory, pidfile and, if shared, its disk-dir file. */
    private Process fakeQemu(String vm, boolean sharedStorage) throws IOException {
        Path dir = Files.createDirectories(data.resolve("vms").resolve(vm));
        Process p = new ProcessBuilder("python3", "-c", "import time; time.sleep(300)", "guest=" + vm + ",process=enclave-" + vm)
                .start();
        processes.add(p);
        Files.writeString(dir.resolve("qemu.pid"), Long.toString(p.pid()));
        if (sharedStorage) Files.writeString(dir.resolve("disk-dir"), "/shared/vms/" + vm);
        return p;
    }
}
