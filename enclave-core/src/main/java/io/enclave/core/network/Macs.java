package io.enclave.core.network;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * MAC addresses for VM NICs: {@code 52:54:00:xx:xx:xx} (QEMU's locally administered unicast prefix), the
 * last three bytes derived from a seed such as "vmId/networkId", so a NIC keeps its MAC when re-derived.
 */
public final class Macs {
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    private Macs() {}

    /** A MAC for {@code seed} that is not in {@code taken} (lower case). */
    public static String generate(String seed, Set<String> taken) {
        for (int attempt = 0; ; attempt++) {
            byte[] h = sha256(seed + "#" + attempt);
            String mac = String.format(Locale.ROOT, "52:54:00:%02x:%02x:%02x", h[0] & 0xff, h[1] & 0xff, h[2] & 0xff);
            if (!taken.contains(mac)) return mac;
        }
    }

    /** Six lower-case hex pairs, unicast (I/G bit clear), not all zero. */
    public static boolean isValidUnicast(String mac) {
        if (mac == null || !MAC.matcher(mac).matches()) return false;
        int first = Integer.parseInt(mac.substring(0, 2), 16);
        return (first & 1) == 0 && !mac.equals("00:00:00:00:00:00");
    }

    static byte[] sha256(String text) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                md.update((byte) (c >>> 8));
                md.update((byte) c);
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
