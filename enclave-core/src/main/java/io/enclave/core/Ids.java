package io.enclave.core;

import java.security.SecureRandom;

/** Short, prefixed, random resource identifiers such as {@code vm-3f9a0c61b2d4}. */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Ids() {}

    public static String newId(String prefix) {
        byte[] bytes = new byte[6];
        RANDOM.nextBytes(bytes);
        char[] out = new char[12];
        for (int i = 0; i < bytes.length; i++) {
            out[2 * i] = HEX[(bytes[i] >> 4) & 0xf];
            out[2 * i + 1] = HEX[bytes[i] & 0xf];
        }
        return prefix + "-" + new String(out);
    }
}
