package io.enclave.core.host;

import io.enclave.core.storage.VolumeOnHost;

/** A volume hot-plugged into a running VM, with the PCI slot (on bus 0) its guest device holds. */
public record PluggedVolume(VolumeOnHost volume, int pciSlot) {
    public PluggedVolume {
        if (volume == null) throw new IllegalArgumentException("a plugged volume needs its volume");
        // slot 0 is the host bridge, 1 the ISA bridge of the pc machine; a PCI bus has 32 slots
        if (pciSlot < 2 || pciSlot > 31) {
            throw new IllegalArgumentException("volume " + volume.volume().id() + ": PCI slot " + pciSlot + " is not 2-31");
        }
    }
}
