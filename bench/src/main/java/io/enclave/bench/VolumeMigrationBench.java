package io.enclave.bench;

import io.enclave.agent.exec.ProcessCommandRunner;
import io.enclave.agent.fs.FileTrees;
import io.enclave.agent.qemu.Accelerator;
import io.enclave.agent.qemu.QemuHostAgent;
import io.enclave.agent.storage.QemuStorageDriver;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.HostInfo;
import io.enclave.core.host.MigrationProgress;
import io.enclave.core.host.MigrationTarget;
import io.enclave.core.host.PluggedVolume;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Live migration of a VM with volumes between two host agents in one JVM (relays on 127.0.0.1), back and forth:
 * a real guest of the default image (1 vCPU, 256 MiB by default) booting from a 2-copy boot volume with a 1-copy
 * 1 GiB volume hot-plugged, while it appends a synced line to its root filesystem and writes a sector of the raw
 * volume every 0.1 s. Each hop copies both volumes into the other host's devices (plain directories here, the next
 * generation each time), as the controller's migration does, and deletes the old copies. Prints a line per hop
 * and a RESULT line; a hop whose guest's counter no longer moves counts as broken and ends the run.
 */
public final class VolumeMigrationBench {

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        long mib = args.length > 1 ? Long.parseLong(args[1]) : 256;
        Path root = Files.createTempDirectory(Path.of("/tmp"), "enmv");
        BootImage image = new BootImage(MigrationBench.IMAGE.resolve("disk.qcow2").toString(), "qcow2",
                MigrationBench.IMAGE.resolve("vmlinuz").toString(), MigrationBench.IMAGE.resolve("initrd.img").toString(),
                "console=ttyS0 root=/dev/vda rw quiet", true);
        QemuHostAgent a = agent(root, "a");
        QemuHostAgent b = agent(root, "b");
        String hex = String.format("%011x", System.nanoTime() & 0xffffffffffL);
        String vmId = "vm-b" + hex;
        Map<String, String> dirs = Map.of("a1", dir(root, "a1"), "a2", dir(root, "a2"), "b1", dir(root, "b1"), "b2", dir(root, "b2"));
        try {
            VolumeOnHost boot = onHost(new Volume("vol-b" + hex, "t-bench", "bench-boot", "pool", 1, 2,
                    List.of(copy(0, "a1", 0), copy(1, "a2", 0)), vmId, true, List.of()), dirs);
            VolumeOnHost data = onHost(new Volume("vol-d" + hex, "t-bench", "bench-data", "pool", 1, 1,
                    List.of(copy(0, "a1", 0)), vmId, false, List.of()), dirs);
            VmRuntimeSpec spec = new VmRuntimeSpec(vmId, "t-bench", "bench", 1, mib, 1, image).withBootVolume(boot);
            a.start(spec);
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (!a.status(vmId).guestReady()) {
                if (System.nanoTime() > deadline) throw new IllegalStateException(vmId + ": guest not ready in 120 s");
                Thread.sleep(250);
            }
            a.createVolume(data);
            a.attachVolume(vmId, data);
            MigrationBench.sh(a, vmId, "while [ ! -b /dev/vdb ]; do sleep 0.1; done");
            MigrationBench.sh(a, vmId, "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; echo $i >> /root/seq; sync; "
                    + "printf '%-511s\\n' $i | dd of=/dev/vdb bs=512 seek=$((16384 + i)) conv=fsync 2>/dev/null; sleep 0.1; done)"
                    + " </dev/null >/dev/null 2>&1 &");
            Stats total = new Stats(), downtime = new Stats(), endToEnd = new Stats();
            int broken = 0;
            QemuHostAgent from = a, to = b;
            String toName = "b";
            for (int i = 0; i < runs; i++) {
                int generation = i + 1;
                VolumeOnHost bootTo = onHost(boot.volume().withPlacement(List.of(copy(0, toName + "1", generation),
                        copy(1, toName + "2", generation))), dirs);
                VolumeOnHost dataTo = onHost(data.volume().withPlacement(List.of(copy(0, toName + "1", generation))), dirs);
                long t0 = System.nanoTime();
                int slot = from.pluggedVolumeSlots(vmId).get(data.volume().id());
                MigrationTarget target = to.prepareIncoming(spec.withBootVolume(bootTo)
                        .withPluggedVolumes(List.of(new PluggedVolume(dataTo, slot))), true, "127.0.0.1");
                from.startMigration(vmId, target, true);
                MigrationProgress p;
                while (!(p = from.migrationProgress(vmId)).finished()) Thread.sleep(5);
                if (!MigrationProgress.COMPLETED.equals(p.status())) throw new IllegalStateException("hop " + (i + 1) + ": " + p);
                to.completeIncoming(vmId);
                long e2e = (System.nanoTime() - t0) / 1_000_000;
                from.release(vmId);
                from.deleteVolume(boot);
                from.deleteVolume(data);
                boot = bootTo;
                data = dataTo;
                total.add(p.totalMs());
                downtime.add(p.downtimeMs());
                endToEnd.add(e2e);
                boolean healthy = MigrationBench.healthy(to, vmId);
                if (!healthy) broken++;
                System.out.printf(Locale.ROOT, "hop %d (%d MiB, boot volume 2 copies + volume 1 copy, copied): total %d ms, "
                        + "downtime %d ms, end-to-end %d ms, guest %s%n", i + 1, mib, p.totalMs(), p.downtimeMs(), e2e,
                        healthy ? "ok" : "BROKEN");
                if (!healthy) break;
                QemuHostAgent x = from; from = to; to = x;
                toName = toName.equals("b") ? "a" : "b";
            }
            // every line the guest synced to its root filesystem is there, in order, after all the hops
            if (broken == 0) {
                MigrationBench.sh(from, vmId, "sync; echo 3 > /proc/sys/vm/drop_caches; awk '$1 != NR { exit 1 }' /root/seq");
            }
            System.out.printf(Locale.ROOT, "RESULT migration %d MiB with volumes (copied): hops %d, broken %d | QEMU total %s "
                    + "| downtime %s | end-to-end (prepare to completed on the destination) %s%n", mib, total.size(), broken,
                    total.summary(" ms"), downtime.summary(" ms"), endToEnd.summary(" ms"));
        } finally {
            for (QemuHostAgent agent : List.of(a, b)) {
                try {
                    agent.destroy(vmId);
                } catch (RuntimeException e) {
                    System.out.println("cleanup: " + e.getMessage());
                }
            }
            FileTrees.delete(root);
        }
    }

    static QemuHostAgent agent(Path root, String name) {
        return new QemuHostAgent(new HostInfo(name, name, 2, 4096, "tcg"), root.resolve(name).resolve("vms"),
                new ProcessCommandRunner(), Accelerator.TCG, "qemu-system-x86_64", null,
                new QemuStorageDriver(new ProcessCommandRunner()));
    }

    private static String dir(Path root, String device) throws java.io.IOException {
        return Files.createDirectories(root.resolve("dev-" + device)).toString();
    }

    private static VolumeCopy copy(int index, String device, int generation) {
        return new VolumeCopy(index, device, generation, CopyState.IN_SYNC);
    }

    private static VolumeOnHost onHost(Volume volume, Map<String, String> dirs) {
        return new VolumeOnHost(volume, dirs);
    }
}
