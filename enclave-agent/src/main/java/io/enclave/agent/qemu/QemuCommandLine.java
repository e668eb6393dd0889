package io.enclave.agent.qemu;

import io.enclave.agent.storage.BlockGraph;
import io.enclave.agent.storage.VolumeLayout;
import io.enclave.core.host.BootImage;
import io.enclave.core.host.PluggedVolume;
import io.enclave.core.host.VmNic;
import io.enclave.core.host.VmRuntimeSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The single translation from a VM spec to a QEMU command line. Every device and option the platform
 * gives a guest is chosen here, so a reader can check it line by line.
 */
public final class QemuCommandLine {

    private QemuCommandLine() {}

    public static List<String> build(String qemuBinary, VmRuntimeSpec spec, VmFiles files, Accelerator accel) {
        BootImage image = spec.image();
        List<String> argv = new ArrayList<>();
        // A VM with NICs runs in its tenant's network namespace, where its TAPs are.
        if (spec.netns() != null) argv.addAll(List.of("ip", "netns", "exec", spec.netns()));
        argv.add(qemuBinary);
        add(argv, "-name", "guest=" + spec.vmId() + ",process=enclave-" + spec.vmId());
        add(argv, "-machine", "pc");
        add(argv, "-accel", accel.qemuName());
        add(argv, "-cpu", accel == Accelerator.KVM ? "host" : "max");
        add(argv, "-smp", Integer.toString(spec.vcpus()));
        add(argv, "-m", spec.memoryMib() + "M");
        argv.add("-nodefaults");
        argv.add("-no-user-config");
        add(argv, "-display", "none");
        // The guest powering off leaves QEMU in "shutdown" so the agent can tell it from a crash.
        argv.add("-no-shutdown");

        if (image.directKernelBoot()) {
            add(argv, "-kernel", image.kernelPath());
            if (image.initrdPath() != null) add(argv, "-initrd", image.initrdPath());
            String cmdline = (image.cmdline() == null ? "" : image.cmdline() + " ") + "enclave.hostname=" + spec.name();
            add(argv, "-append", cmdline);
        }

        // With direct kernel boot the kernel loader holds boot index 0; otherwise the disk boots first.
        String bootIndex = image.directKernelBoot() ? "" : ",bootindex=0";
        if (spec.bootVolume() == null) {
            add(argv, "-blockdev", "driver=file,filename=" + files.disk() + ",node-name=disk0-file");
            add(argv, "-blockdev", "driver=qcow2,file=disk0-file,node-name=disk0");
            add(argv, "-device", "virtio-blk-pci,drive=disk0,id=disk0-dev" + bootIndex);
        } else {
            // The boot volume gets the graph, node names and device id a hot-plugged volume gets, so snapshots,
            // failure handling and resync of attached volumes work on it unchanged.
            VolumeLayout layout = VolumeLayout.of(spec.bootVolume());
            BlockGraph graph = BlockGraph.of(layout);
            argv.addAll(graph.commandLineArgs());
            add(argv, "-device", "virtio-blk-pci,drive=" + graph.top() + ",id=" + layout.qdevId() + ",serial="
                    + layout.serial() + bootIndex);
        }

        add(argv, "-chardev", "socket,id=serial0,path=" + files.consoleSocket()
                + ",server=on,wait=off,logfile=" + files.consoleLog() + ",logappend=on");
        add(argv, "-serial", "chardev:serial0");

        add(argv, "-device", "virtio-serial-pci,id=vser0");
        add(argv, "-chardev", "socket,id=qga0,path=" + files.guestAgentSocket() + ",server=on,wait=off");
        add(argv, "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0");

        for (int i = 0; i < spec.nics().size(); i++) {
            VmNic nic = spec.nics().get(i);
            add(argv, "-netdev", "tap,id=net" + i + ",ifname=" + nic.tap() + ",script=no,downscript=no");
            // host_mtu tells the guest driver the network's MTU even before DHCP.
            add(argv, "-device", "virtio-net-pci,netdev=net" + i + ",id=nic" + i + ",mac=" + nic.mac()
                    + ",host_mtu=" + nic.mtu());
        }

        // Volumes the source of an incoming migration had hot-plugged: the same graph, device id and serial as a
        // hot-plug gives them (QemuStorageDriver.attach), at the slot they hold there.
        for (PluggedVolume plugged : spec.pluggedVolumes()) {
            VolumeLayout layout = VolumeLayout.of(plugged.volume());
            BlockGraph graph = BlockGraph.of(layout);
            argv.addAll(graph.commandLineArgs());
            add(argv, "-device", "virtio-blk-pci,drive=" + graph.top() + ",id=" + layout.qdevId() + ",serial="
                    + layout.serial() + ",addr=0x" + Integer.toHexString(plugged.pciSlot()));
        }

        // A guest kernel panic pauses the guest and shows as status "guest-panicked".
        add(argv, "-device", "pvpanic");
        add(argv, "-action", "panic=pause");

        add(argv, "-qmp", "unix:" + files.qmpSocket() + ",server=on,wait=off");
        add(argv, "-pidfile", files.pidFile().toString());
        add(argv, "-D", files.qemuLog().toString());
        argv.add("-daemonize");
        return argv;
    }

    private static void add(List<String> argv, String option, String value) {
        argv.add(option);
        argv.add(value);
    }
}
