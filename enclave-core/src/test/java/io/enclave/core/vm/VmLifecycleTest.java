package io.enclave.core.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.core.host.RuntimeState;
import io.enclave.core.host.VmRuntimeStatus;
import io.enclave.core.vm.VmLifecycle.Action;
import io.enclave.core.vm.VmLifecycle.Decision;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class VmLifecycleTest {
    static final Instant NOW = Instant.parse("2026-11-27T12:00:00Z");
    final VmLifecycle lifecycle = new VmLifecycle(Duration.ofMinutes(5));

    static Vm vm(DesiredState desired, VmPhase phase, boolean reboot) {
        return new Vm("vm-000000000001", "tn-1", new VmSpec("a", 1, 128, 1, "img"), "host-1", desired, 2, reboot, 30,
                phase, 1, false, null, NOW, NOW);
    }

    static VmRuntimeStatus host(RuntimeState state, boolean ready, Instant booted, Instant stopAsked) {
        return new VmRuntimeStatus("vm-000000000001", state, ready, booted, stopAsked, null);
    }

    Decision decide(Vm vm, VmRuntimeStatus host) {
        return lifecycle.decide(vm, host, true, NOW);
    }

    @Test
    void aNewRunningVmGetsItsDiskThenStartsThenWaitsForTheGuest() {
        Vm vm = vm(DesiredState.RUNNING, VmPhase.PENDING, false);
        assertThat(decide(vm, host(RuntimeState.ABSENT, false, null, null)).action()).isEqualTo(Action.CREATE_DISK);
        assertThat(decide(vm, host(RuntimeState.DEFINED, false, null, null)).action()).isEqualTo(Action.START);
        Decision waiting = decide(vm, host(RuntimeState.RUNNING, false, NOW.minusSeconds(3), null));
        assertThat(waiting.action()).isEqualTo(Action.AWAIT_GUEST);
        assertThat(waiting.phase()).isEqualTo(VmPhase.STARTING);
        assertThat(waiting.converged()).isFalse();
        Decision ready = decide(vm, host(RuntimeState.RUNNING, true, NOW.minusSeconds(5), null));
        assertThat(ready.converged()).isTrue();
        assertThat(ready.phase()).isEqualTo(VmPhase.RUNNING);
    }

    @Test
    void aGuestThatNeverAnswersIsRunningWithAMessageAfterTheTimeout() {
        Decision d = decide(vm(DesiredState.RUNNING, VmPhase.STARTING, false),
                host(RuntimeState.RUNNING, false, NOW.minus(Duration.ofMinutes(6)), null));
        assertThat(d.converged()).isTrue();
        assertThat(d.message()).contains("guest agent");
    }

    @Test
    void withoutAGuestAgentRunningIsEnough() {
        Decision d = lifecycle.decide(vm(DesiredState.RUNNING, VmPhase.STARTING, false),
                host(RuntimeState.RUNNING, false, NOW, null), false, NOW);
        assertThat(d.converged()).isTrue();
    }

    @Test
    void stoppingAsksTheGuestFirstAndForcesAfterTheTimeout() {
        Vm vm = vm(DesiredState.STOPPED, VmPhase.RUNNING, false);
        assertThat(decide(vm, host(RuntimeState.RUNNING, true, NOW, null)).action()).isEqualTo(Action.POWER_DOWN);
        assertThat(decide(vm, host(RuntimeState.RUNNING, true, NOW, NOW.minusSeconds(10))).action())
                .isEqualTo(Action.AWAIT_POWER_DOWN);
        assertThat(decide(vm, host(RuntimeState.RUNNING, true, NOW, NOW.minusSeconds(31))).action())
                .isEqualTo(Action.FORCE_STOP);
        assertThat(decide(vm, host(RuntimeState.GUEST_SHUTDOWN, false, NOW, NOW.minusSeconds(2))).action())
                .isEqualTo(Action.FORCE_STOP);
        Decision stopped = decide(vm, host(RuntimeState.DEFINED, false, null, null));
        assertThat(stopped.converged()).isTrue();
        assertThat(stopped.phase()).isEqualTo(VmPhase.STOPPED);
    }

    @Test
    void rebootResetsARunningGuest() {
        Decision d = decide(vm(DesiredState.RUNNING, VmPhase.RUNNING, true), host(RuntimeState.RUNNING, true, NOW, null));
        assertThat(d.action()).isEqualTo(Action.RESET);
        assertThat(d.phase()).isEqualTo(VmPhase.REBOOTING);
    }

    @Test
    void crashesAndGuestPowerOffAreRecordedAsStoppedByThemselves() {
        Vm vm = vm(DesiredState.RUNNING, VmPhase.RUNNING, false);
        Decision panic = decide(vm, host(RuntimeState.GUEST_PANICKED, false, NOW, null));
        assertThat(panic.stopDesired()).isTrue();
        assertThat(panic.phase()).isEqualTo(VmPhase.CRASHED);
        assertThat(panic.message()).contains("panicked");
        Decision died = decide(vm, host(RuntimeState.PROCESS_DIED, false, NOW, null));
        assertThat(died.action()).isEqualTo(Action.CLEAR_DEAD_PROCESS);
        assertThat(died.phase()).isEqualTo(VmPhase.CRASHED);
        assertThat(died.message()).contains("QEMU process exited unexpectedly");
        Decision off = decide(vm, host(RuntimeState.GUEST_SHUTDOWN, false, NOW, null));
        assertThat(off.stopDesired()).isTrue();
        assertThat(off.phase()).isEqualTo(VmPhase.STOPPED);
        // Once stopped, a crashed VM keeps saying so.
        Vm crashed = new Vm(vm.id(), vm.tenantId(), vm.spec(), vm.hostId(), DesiredState.STOPPED, 3, false, 30,
                VmPhase.CRASHED, 2, false, "guest kernel panicked", NOW, NOW);
        Decision after = decide(crashed, host(RuntimeState.DEFINED, false, null, null));
        assertThat(after.phase()).isEqualTo(VmPhase.CRASHED);
        assertThat(after.message()).isEqualTo("guest kernel panicked");
    }

    @Test
    void deletionKillsThenDestroysThenIsDone() {
        Vm vm = vm(DesiredState.DELETED, VmPhase.RUNNING, false);
        assertThat(decide(vm, host(RuntimeState.RUNNING, true, NOW, null)).action()).isEqualTo(Action.FORCE_STOP);
        assertThat(decide(vm, host(RuntimeState.DEFINED, false, null, null)).action()).isEqualTo(Action.DESTROY);
        assertThat(decide(vm, host(RuntimeState.PROCESS_DIED, false, null, null)).action()).isEqualTo(Action.DESTROY);
        assertThat(decide(vm, host(RuntimeState.ABSENT, false, null, null)).converged()).isTrue();
    }
}
