package io.enclave.core.storage;

import io.enclave.core.error.EnclaveException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Chooses devices for a volume's copies: every copy on a distinct online device with room for the whole
 * copy, preferring the devices with the most free space (ties broken by id, so the choice is stable).
 */
public final class Placement {

    private Placement() {}

    /**
     * Picks {@code copies} distinct devices of {@code pool} for a volume of {@code sizeBytes}.
     *
     * @throws EnclaveException.InvalidRequest naming {@code copies} when the pool has fewer online devices
     *                                         than copies, or {@code sizeGib} when too few have room
     */
    public static List<String> place(int copies, long sizeBytes, List<DeviceSpace> pool) {
        return choose(copies, sizeBytes, pool, Set.of());
    }

    /**
     * Picks one device for a rebuilt copy: online, with room, and holding no other copy of the volume
     * ({@code occupied} lists the devices of the copies that stay).
     */
    public static String replacement(long sizeBytes, List<DeviceSpace> pool, Set<String> occupied) {
        return choose(1, sizeBytes, pool, occupied).getFirst();
    }

    private static List<String> choose(int copies, long sizeBytes, List<DeviceSpace> pool, Set<String> occupied) {
        if (copies < 1) throw new EnclaveException.InvalidRequest("copies", "must be at least 1, got " + copies);
        List<DeviceSpace> online = pool.stream().filter(DeviceSpace::online)
                .filter(d -> !occupied.contains(d.deviceId())).toList();
        if (online.size() < copies) {
            String why = occupied.isEmpty()
                    ? "asks " + copies + " copies on distinct devices but the pool has only " + online.size()
                            + " online device" + (online.size() == 1 ? "" : "s") + " (of " + pool.size() + ")"
                    : "no online device is left that does not already hold a copy of this volume";
            throw new EnclaveException.InvalidRequest("copies", why);
        }
        List<DeviceSpace> roomy = new ArrayList<>(online.stream().filter(d -> d.freeBytes() >= sizeBytes).toList());
        if (roomy.size() < copies) {
            long bestFree = online.stream().mapToLong(DeviceSpace::freeBytes).max().orElse(0);
            throw new EnclaveException.InvalidRequest("sizeGib", "needs " + human(sizeBytes) + " free on "
                    + copies + " distinct device" + (copies == 1 ? "" : "s") + " but only " + roomy.size()
                    + " of the pool's online devices " + (roomy.size() == 1 ? "has" : "have")
                    + " that much (largest free: " + human(bestFree) + ")");
        }
        roomy.sort(Comparator.comparingLong(DeviceSpace::freeBytes).reversed().thenComparing(DeviceSpace::deviceId));
        return roomy.subList(0, copies).stream().map(DeviceSpace::deviceId).toList();
    }

    static String human(long bytes) {
        if (bytes >= (1L << 30) && bytes % (1L << 30) == 0) return (bytes >> 30) + " GiB";
        if (bytes >= (1L << 30)) return String.format("%.1f GiB", bytes / (double) (1L << 30));
        return (bytes >> 20) + " MiB";
    }
}
