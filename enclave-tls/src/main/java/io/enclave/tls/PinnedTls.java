package io.enclave.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * TLS 1.3 contexts that trust exactly the certificates they are given (no authorities, no host names: the
 * peer must present one of the pinned certificates, byte for byte, and prove it holds its key).
 */
public final class PinnedTls {
    private PinnedTls() {}

    /**
     * A client that accepts only a server presenting {@code server}; presents {@code own} when the server asks
     * for a client certificate ({@code own} may be null: no client certificate).
     */
    public static SSLContext client(TlsIdentity own, X509Certificate server) {
        return context(own, List.of(server));
    }

    /**
     * A client that accepts only a server whose certificate has the SHA-256 fingerprint {@code sha256Hex} (hex, as
     * {@link TlsIdentity#fingerprint()} prints it; colons and case ignored): the first contact, when an operator has
     * copied the fingerprint from the server but the client does not hold the certificate yet.
     */
    public static SSLContext clientPinnedByFingerprint(TlsIdentity own, String sha256Hex) {
        String fingerprint = normalizeFingerprint(sha256Hex);
        try {
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            KeyManager[] keys = own == null ? new KeyManager[0] : new KeyManager[] {new SingleKey(own)};
            context.init(keys, new TrustManager[] {new Pinned(List.of(), fingerprint)}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** {@code sha256Hex} as 64 lower-case hex digits; IllegalArgumentException when it is not a SHA-256 fingerprint. */
    public static String normalizeFingerprint(String sha256Hex) {
        String f = sha256Hex == null ? "" : sha256Hex.replace(":", "").strip().toLowerCase(java.util.Locale.ROOT);
        if (!f.matches("[0-9a-f]{64}")) throw new IllegalArgumentException("not a SHA-256 fingerprint (64 hex digits): " + sha256Hex);
        return f;
    }

    /**
     * A server presenting {@code own}. With {@code clients} non-empty the server must also be set to require a
     * client certificate (SSLParameters/SSLEngine needClientAuth), and only those certificates are accepted.
     */
    public static SSLContext server(TlsIdentity own, Collection<X509Certificate> clients) {
        return context(own, List.copyOf(clients));
    }

    private static SSLContext context(TlsIdentity own, List<X509Certificate> trusted) {
        try {
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            KeyManager[] keys = own == null ? new KeyManager[0] : new KeyManager[] {new SingleKey(own)};
            context.init(keys, new TrustManager[] {new Pinned(trusted, null)}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** Offers one key and certificate whatever the peer asks for. */
    private static final class SingleKey extends X509ExtendedKeyManager {
        private static final String ALIAS = "self";
        private final TlsIdentity identity;

        SingleKey(TlsIdentity identity) {
            this.identity = identity;
        }

        private String alias(String keyType) {
            return keyType == null || keyType.equals(identity.privateKey().getAlgorithm()) ? ALIAS : null;
        }

        private String alias(String[] keyTypes) {
            if (keyTypes == null) return ALIAS;
            for (String type : keyTypes) if (alias(type) != null) return ALIAS;
            return null;
        }

        @Override public String[] getClientAliases(String keyType, Principal[] issuers) { return new String[] {ALIAS}; }
        @Override public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) { return alias(keyType); }
        @Override public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) { return alias(keyType); }
        @Override public String[] getServerAliases(String keyType, Principal[] issuers) { return new String[] {ALIAS}; }
        @Override public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) { return alias(keyType); }
        @Override public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) { return alias(keyType); }
        @Override public X509Certificate[] getCertificateChain(String alias) { return new X509Certificate[] {identity.certificate()}; }
        @Override public PrivateKey getPrivateKey(String alias) { return identity.privateKey(); }
    }

    /**
     * Accepts a peer whose leaf certificate is one of the pinned ones (or has the pinned SHA-256 fingerprint) and
     * is within its validity.
     */
    private static final class Pinned extends X509ExtendedTrustManager {
        private final List<X509Certificate> pinned;
        private final String fingerprint;

        Pinned(List<X509Certificate> pinned, String fingerprint) {
            this.pinned = pinned;
            this.fingerprint = fingerprint;
        }

        private void check(X509Certificate[] chain) throws CertificateException {
            if (chain == null || chain.length == 0) throw new CertificateException("the peer presented no certificate");
            X509Certificate leaf = chain[0];
            if (fingerprint != null && java.security.MessageDigest.isEqual(fingerprint.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                    Pem.fingerprint(leaf).getBytes(java.nio.charset.StandardCharsets.US_ASCII))) {
                leaf.checkValidity();
                return;
            }
            for (X509Certificate candidate : pinned) {
                if (Arrays.equals(candidate.getEncoded(), leaf.getEncoded())) {
                    leaf.checkValidity();
                    return;
                }
            }
            throw new CertificateException("the peer's certificate (sha256 " + Pem.fingerprint(leaf)
                    + ") is not the one pinned for it");
        }

        @Override public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException { check(chain); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException { check(chain); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException { check(chain); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException { check(chain); }
        @Override public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException { check(chain); }
        @Override public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException { check(chain); }
        @Override public X509Certificate[] getAcceptedIssuers() { return pinned.toArray(X509Certificate[]::new); }
    }
}
