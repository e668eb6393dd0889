package io.enclave.tls;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A private key and the self-signed certificate that names it. Nothing in Enclave trusts a certificate
 * authority: each side learns the other's exact certificate over a channel it already trusts (an agent's
 * join, a controller's answer, a migration target handed over by the controller) and pins it.
 */
public record TlsIdentity(PrivateKey privateKey, X509Certificate certificate) {

    /** A fresh P-256 key and a certificate for it, valid from an hour ago (clock skew) for {@code validity}. */
    public static TlsIdentity generate(String commonName, List<String> ipAddresses, Duration validity) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair pair = generator.generateKeyPair();
            X500Name name = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
            Instant now = Instant.now();
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name,
                    new BigInteger(96, new SecureRandom()), Date.from(now.minus(Duration.ofHours(1))),
                    Date.from(now.plus(validity)), name, pair.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            if (!ipAddresses.isEmpty()) {
                GeneralName[] names = ipAddresses.stream()
                        .map(ip -> new GeneralName(GeneralName.iPAddress, ip)).toArray(GeneralName[]::new);
                builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
            }
            X509Certificate certificate = new JcaX509CertificateConverter()
                    .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
            return new TlsIdentity(pair.getPrivate(), certificate);
        } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
            throw new IllegalStateException("cannot generate a TLS identity for " + commonName + ": " + e.getMessage(), e);
        }
    }

    /**
     * The identity kept in {@code <dir>/<name>.key} (owner-only) and {@code <dir>/<name>.crt}, generated and
     * written there the first time.
     */
    public static TlsIdentity loadOrCreate(Path dir, String name, String commonName, List<String> ipAddresses) {
        Path keyFile = dir.resolve(name + ".key");
        Path certFile = dir.resolve(name + ".crt");
        try {
            if (Files.exists(keyFile) && Files.exists(certFile)) {
                return new TlsIdentity(privateKeyFromPem(Files.readString(keyFile)),
                        Pem.certificate(Files.readString(certFile)));
            }
            TlsIdentity fresh = generate(commonName, ipAddresses, Duration.ofDays(3650));
            Files.createDirectories(dir);
            Path tmp = dir.resolve(name + ".key.tmp");
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmp, fresh.privateKeyPem());
            Files.writeString(certFile, fresh.certificatePem());
            Files.move(tmp, keyFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return fresh;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read or write the TLS identity " + keyFile + ": " + e.getMessage(), e);
        }
    }

    public String certificatePem() {
        return Pem.of(certificate);
    }

    public String privateKeyPem() {
        return Pem.encode("PRIVATE KEY", privateKey.getEncoded());
    }

    /** SHA-256 of the certificate, lower-case hex: what an operator compares or passes as a pin. */
    public String fingerprint() {
        return Pem.fingerprint(certificate);
    }

    private static PrivateKey privateKeyFromPem(String pem) {
        try {
            return KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(Pem.decode("PRIVATE KEY", pem)));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("not an EC private key in PKCS#8 PEM: " + e.getMessage(), e);
        }
    }
}
