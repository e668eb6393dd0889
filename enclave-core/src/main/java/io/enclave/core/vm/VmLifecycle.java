package io.enclave.core.vm;

import io.enclave.core.host.RuntimeState;
import io.enclave.core.host.VmRuntimeStatus;
import java.time.Duration;
import java.time.Instant;

/**
 * The VM state machine, in one place and free of I/O: given what the tenant wants and what the host
 * shows, it names the next action and the phase to record. The reconciler carries the action out and
 * asks again until the decision is {@link Decision#converged()}.
 */
public final class VmLifecycle {

    /** The next thing to do on the host. */
    public enum Action {
        NONE, CREATE_DISK, START, AWAIT_GUEST, POWER_DOWN, AWAIT_POWER_DOWN, FORCE_STOP, RESET, RESUME,
        CLEAR_DEAD_PROCESS, DESTROY
    }

    /**
     * @param action       what to do now
     * @param phase        the phase to record
     * @param converged    the host matches the desired state of this generation (after {@code action})
     * @param stopDesired  the VM stopped by itself (guest power-off, crash): record desired STOPPED so the
     *                     platform does not fight it
     * @param message      why, for the tenant; null when there is nothing to say
     */
    public record Decision(Action action, VmPhase phase, boolean converged, boolean stopDesired, String message) {
        static Decision step(Action action, VmPhase phase) {
            return new Decision(action, phase, false, false, null);
        }

        static Decision done(Action action, VmPhase phase, String message) {
            return new Decision(action, phase, true, false, message);
        }

        static Decision stoppedByItself(Action action, VmPhase phase, String message) {
            return new Decision(action, phase, false, true, message);
        }
    }

    private final Duration guestReadyTimeout;

    public VmLifecycle(Duration guestReadyTimeout) {
        this.guestReadyTimeout = guestReadyTimeout;
    }

    public Decision decide(Vm vm, VmRuntimeStatus host, boolean imageHasGuestAgent, Instant now) {
        if (vm.desiredState() == DesiredState.DELETED) {
            return deleting(host);
        }
        switch (host.state()) {
            case GUEST_PANICKED:
                return Decision.stoppedByItself(Action.FORCE_STOP, VmPhase.CRASHED, "guest kernel panicked");
            case PROCESS_DIED:
                return Decision.stoppedByItself(Action.CLEAR_DEAD_PROCESS, VmPhase.CRASHED,
                        "QEMU process exited unexpectedly" + (host.detail() == null ? "" : ": " + host.detail()));
            case GUEST_SHUTDOWN:
                if (vm.desiredState() == DesiredState.RUNNING && host.stopRequestedAt() == null) {
                    return Decision.stoppedByItself(Action.FORCE_STOP, VmPhase.STOPPED, "guest powered itself off");
                }
                return Decision.step(Action.FORCE_STOP, VmPhase.STOPPING);
            default:
                break;
        }
        return switch (vm.desiredState()) {
            case RUNNING -> running(vm, host, imageHasGuestAgent, now);
            case STOPPED -> stopped(vm, host, now);
            case DELETED -> throw new IllegalStateException("handled above");
        };
    }

    private Decision deleting(VmRuntimeStatus host) {
        if (host.processAlive()) return Decision.step(Action.FORCE_STOP, VmPhase.DELETING);
        if (host.state() == RuntimeState.ABSENT) {
            return Decision.done(Action.NONE, VmPhase.DELETING, null);
        }
        return Decision.step(Action.DESTROY, VmPhase.DELETING);
    }

    private Decision running(Vm vm, VmRuntimeStatus host, boolean guestAgent, Instant now) {
        return switch (host.state()) {
            case ABSENT -> Decision.step(Action.CREATE_DISK, VmPhase.CREATING);
            case DEFINED -> Decision.step(Action.START, VmPhase.STARTING);
            case PAUSED -> Decision.step(Action.RESUME, VmPhase.STARTING);
            case RUNNING -> {
                if (vm.rebootPending()) yield Decision.step(Action.RESET, VmPhase.REBOOTING);
                if (!guestAgent || host.guestReady()) yield Decision.done(Action.NONE, VmPhase.RUNNING, null);
                boolean rebooting = vm.phase() == VmPhase.REBOOTING;
                if (host.startedAt() != null && now.isAfter(host.startedAt().plus(guestReadyTimeout))) {
                    yield Decision.done(Action.NONE, VmPhase.RUNNING, "guest agent has not answered within "
                            + guestReadyTimeout.toSeconds() + " s of boot");
                }
                yield Decision.step(Action.AWAIT_GUEST, rebooting ? VmPhase.REBOOTING : VmPhase.STARTING);
            }
            default -> throw new IllegalStateException("unexpected host state " + host.state());
        };
    }

    private Decision stopped(Vm vm, VmRuntimeStatus host, Instant now) {
        return switch (host.state()) {
            case ABSENT -> Decision.step(Action.CREATE_DISK, VmPhase.CREATING);
            case DEFINED -> vm.phase() == VmPhase.CRASHED
                    ? Decision.done(Action.NONE, VmPhase.CRASHED, vm.message())
                    : Decision.done(Action.NONE, VmPhase.STOPPED, null);
            case RUNNING, PAUSED -> {
                if (host.stopRequestedAt() == null) yield Decision.step(Action.POWER_DOWN, VmPhase.STOPPING);
                Instant deadline = host.stopRequestedAt().plusSeconds(vm.stopTimeoutSeconds());
                if (now.isAfter(deadline)) yield Decision.step(Action.FORCE_STOP, VmPhase.STOPPING);
                yield Decision.step(Action.AWAIT_POWER_DOWN, VmPhase.STOPPING);
            }
            default -> throw new IllegalStateException("unexpected host state " + host.state());
        };
    }
}
