package io.enclave.agent.qemu;

public enum Accelerator {
    KVM("kvm"), TCG("tcg");

    private final String qemuName;

    Accelerator(String qemuName) {
        this.qemuName = qemuName;
    }

    public String qemuName() {
        return qemuName;
    }
}
