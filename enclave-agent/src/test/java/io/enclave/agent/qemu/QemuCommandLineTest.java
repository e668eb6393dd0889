package io.enclave.agent.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.core.host.BootImage;
import io.enclave.core.host.PluggedVolume;
import io.enclave.core.host.VmNic;
import io.enclave.core.host.VmRuntimeSpec;
import io.enclave.core.storage.CopyState;
import io.enclave.core.storage.Volume;
import io.enclave.core.storage.VolumeCopy;
import io.enclave.core.storage.VolumeOnHost;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class QemuCommandLineTest {
    final VmFiles files = new VmFiles(Path.of("/var/lib/enclave/vms/vm-0123456789ab"));

    VmRuntimeSpec spec(BootImage image) {
        return new VmRuntimeSpec("vm-0123456789ab", "tn-1", "web-1", 2, 512, 4, image);
    }

    @Test
    void directKernelBootWithEveryPlatformDevice() {
        BootImage image = new BootImage("/img/disk.qcow2", "qcow2", "/img/vmlinuz", "/img/initrd.img",
                "console=ttyS0 root=/dev/vda", true);
        List<String> argv = QemuCommandLine.build("qemu-system-x86_64", spec(image), files, Accelerator.TCG);
        String line = String.join(" ", argv);
        assertThat(argv.getFirst()).isEqualTo("qemu-system-x86_64");
        assertThat(line).contains("-accel tcg -cpu max -smp 2 -m 512M")
                .contains("-kernel /img/vmlinuz -initrd /img/initrd.img")
                .contains("-append console=ttyS0 root=/dev/vda enclave.hostname=web-1")
                .contains("driver=file,filename=/var/lib/enclave/vms/vm-0123456789ab/disk.qcow2")
                .contains("virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0")
                .contains("-device pvpanic -action panic=pause")
                .contains("virtio-blk-pci,drive=disk0,id=disk0-dev -chardev")
                .contains("-qmp unix:/var/lib/enclave/vms/vm-0123456789ab/qmp.sock,server=on,wait=off")
                .contains("-pidfile /var/lib/enclave/vms/vm-0123456789ab/qemu.pid")
                .contains("-no-shutdown").contains("-nodefaults").endsWith("-daemonize");
        // The -append value is one argument, whatever spaces it holds.
        assertThat(argv.get(argv.indexOf("-append") + 1)).isEqualTo("console=ttyS0 root=/dev/vda enclave.hostname=web-1");
    }

    @Test
    void nicsAreTapsAndQemuRunsInTheTenantNamespace() {
        BootImage image = new BootImage("/img/disk.qcow2", "qcow2", null, null, null, false);
        VmRuntimeSpec spec = new VmRuntimeSpec("vm-0123456789ab", "tn-1", "web-1", 1, 256, 1, image,
                List.of(new VmNic("net-a", "enct0123456789", "52:54:00:00:00:01", 1450),
                        new VmNic("net-b", "enct9876543210", "52:54:00:00:00:02", 1450)), "enc-t-tn1");
        List<String> argv = QemuCommandLine.build("qemu-system-x86_64", spec, files, Accelerator.TCG);
        assertThat(argv.subList(0, 5)).containsExactly("ip", "netns", "exec", "enc-t-tn1", "qemu-system-x86_64");
        assertThat(String.join(" ", argv))
                .contains("-netdev tap,id=net0,ifname=enct0123456789,script=no,downscript=no "
                        + "-device virtio-net-pci,netdev=net0,id=nic0,mac=52:54:00:00:00:01,host_mtu=1450")
                .contains("-netdev tap,id=net1,ifname=enct9876543210,script=no,downscript=no");
    }

    @Test
    void firmwareBootHasNoKernelAndKvmUsesTheHostCpu() {
        BootImage image = new BootImage("/img/disk.qcow2", "qcow2", null, null, null, false);
        List<String> argv = QemuCommandLine.build("qemu-system-x86_64", spec(image), files, Accelerator.KVM);
        assertThat(argv).doesNotContain("-kernel", "-initrd", "-append");
        assertThat(String.join(" ", argv)).contains("-accel kvm -cpu host").contains("bootindex=0");
    }

    @Test
    void aBootVolumeIsTheVolumesBlockGraphWithTheHotPlugDeviceIdAndBootsFirst() {
        BootImage image = new BootImage("/img/disk.qcow2", "qcow2", null, null, null, false);
        Volume volume = new Volume("vol-0123456789ab", "tn-1", "web-1-boot", "pool-1", 4, 2,
                List.of(new VolumeCopy(0, "dev-a", 0, CopyState.IN_SYNC), new VolumeCopy(1, "dev-b", 1, CopyState.IN_SYNC)),
                "vm-0123456789ab", true, List.of());
        VmRuntimeSpec spec = spec(image).withBootVolume(new VolumeOnHost(volume, Map.of("dev-a", "/srv/a", "dev-b", "/srv/b")));
        String line = String.join(" ", QemuCommandLine.build("qemu-system-x86_64", spec, files, Accelerator.TCG));
        assertThat(line).doesNotContain("disk0").doesNotContain("/var/lib/enclave/vms/vm-0123456789ab/disk.qcow2")
                .contains("\"filename\":\"/srv/a/enclave-volumes/vol-0123456789ab-c0g0.qcow2\"")
                .contains("\"filename\":\"/srv/b/enclave-volumes/vol-0123456789ab-c1g1.qcow2\"")
                .contains("\"driver\":\"quorum\",\"node-name\":\"vol-0123456789ab\"")
                .contains("-device virtio-blk-pci,drive=vol-0123456789ab,id=vol-0123456789ab-dev,serial=vol-0123456789ab,bootindex=0");
    }

    @Test
    void anIncomingMigrationsPluggedVolumesAreOnTheCommandLineAtTheirSourceSlots() {
        BootImage image = new BootImage("/img/disk.qcow2", "qcow2", null, null, null, false);
        Volume data = new Volume("vol-aaaaaaaaaaaa", "tn-1", "data", "pool-1", 2, 1,
                List.of(new VolumeCopy(0, "dev-a", 3, CopyState.IN_SYNC)), "vm-0123456789ab", false, List.of());
        VmRuntimeSpec spec = spec(image).withPluggedVolumes(List.of(
                new PluggedVolume(new VolumeOnHost(data, Map.of("dev-a", "/srv/a")), 11)));
        List<String> argv = QemuCommandLine.build("qemu-system-x86_64", spec, files, Accelerator.TCG);
        String line = String.join(" ", argv);
        assertThat(line).contains("\"filename\":\"/srv/a/enclave-volumes/vol-aaaaaaaaaaaa-c0g3.qcow2\"")
                .contains("-device virtio-blk-pci,drive=vol-aaaaaaaaaaaa-c0g3,id=vol-aaaaaaaaaaaa-dev,serial=vol-aaaaaaaaaaaa,addr=0xb");
        // after every device QEMU places itself, so none of them can take the slot first
        assertThat(line.indexOf("addr=0xb")).isGreaterThan(line.indexOf("virtio-serial-pci"));
        assertThat(spec(image).pluggedVolumes()).isEmpty();
    }
}
