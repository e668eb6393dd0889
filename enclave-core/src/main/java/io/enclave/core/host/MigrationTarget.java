package io.enclave.core.host;

/**
 * Where a destination host waits for one VM's live migration: TCP ports on {@code address} that its agent
 * relays to the waiting QEMU. {@code nbdPort} is the disk's NBD export when the storage is copied, null when
 * the disk is on shared storage.
 *
 * <p>The ports speak TLS 1.3 only: the destination presents {@code certificatePem} (a self-signed certificate
 * made for this one migration; the source pins exactly it), and every connection must send the one-time
 * {@code token} (lower-case hex, 32 random bytes) first, before any byte reaches QEMU. The token is a secret:
 * {@link #toString()} leaves it out, and nobody should log it.
 */
public record MigrationTarget(String address, int migrationPort, Integer nbdPort, String certificatePem, String token) {

    @Override
    public String toString() {
        return "MigrationTarget[" + address + ", migrationPort=" + migrationPort + ", nbdPort=" + nbdPort
                + (certificatePem == null ? ", no certificate" : ", TLS") + (token == null ? ", no token" : ", token hidden")
                + "]";
    }
}
