package io.enclave.core.network;

/** IPv4 addresses as unsigned 32-bit values held in an int; parsing is strict (four decimal octets). */
public final class Ipv4 {
    private Ipv4() {}

    /** Parses dotted-quad notation; throws {@link IllegalArgumentException} for anything else. */
    public static int parse(String text) {
        if (text == null) throw new IllegalArgumentException("no address");
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) throw new IllegalArgumentException("not an IPv4 address: '" + text + "'");
        int value = 0;
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)
                    || (part.length() > 1 && part.charAt(0) == '0')) {
                throw new IllegalArgumentException("not an IPv4 address: '" + text + "'");
            }
            int octet = Integer.parseInt(part);
            if (octet > 255) throw new IllegalArgumentException("not an IPv4 address: '" + text + "'");
            value = (value << 8) | octet;
        }
        return value;
    }

    public static boolean isValid(String text) {
        try {
            parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    public static String format(int address) {
        return ((address >>> 24) & 0xff) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "."
                + (address & 0xff);
    }
}
