package io.enclave.controller.hosts;

import io.enclave.controller.api.Requests.JoinHost;
import io.enclave.controller.persistence.HostRepository.HostRow;
import io.enclave.controller.persistence.Store;
import io.enclave.controller.scheduler.HostRegistry;
import io.enclave.core.error.EnclaveException;
import io.enclave.core.host.HostInfo;
import io.enclave.core.network.Ipv4;
import io.enclave.core.validation.Validator;
import io.enclave.tls.Pem;
import io.enclave.tls.TlsIdentity;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hosts joining, reporting by heartbeat, and being declared dead. A host's identity is its id plus the
 * secret it chose when it first joined and the TLS certificate it serves its RPC with: the same id with
 * another secret or another certificate is a second machine claiming an identity that is taken, and is
 * refused. The controller keeps only a SHA-256 of the secret (it checks heartbeats with it) and calls the
 * agent over mutual TLS: it pins the agent's certificate and presents its own, which the join answer hands
 * to the agent.
 */
public final class HostService {
    private static final Logger log = LoggerFactory.getLogger(HostService.class);
    private static final Pattern HOST_ID = Pattern.compile("host-[a-z0-9]{4,40}");
    private static final Pattern SHARED_STORAGE = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private final Store store;
    private final HostRegistry registry;
    private final Clock clock;
    private final Instant startedAt;
    private final byte[] joinToken;
    private final Duration deadAfter;
    private final Consumer<String> onHostDead;
    private final TlsIdentity identity;

    /** A host that joined, and the certificate the controller presents when it calls the host's agent. */
    public record Joined(HostRow host, String controllerCertificate) {}

    public HostService(Store store, HostRegistry registry, Clock clock, String joinToken, Duration deadAfter,
            Consumer<String> onHostDead, TlsIdentity identity) {
        this.identity = identity;
        this.store = store;
        this.registry = registry;
        this.clock = clock;
        this.startedAt = clock.instant();
        this.joinToken = joinToken == null ? null : joinToken.getBytes(StandardCharsets.UTF_8);
        this.deadAfter = deadAfter;
        this.onHostDead = onHostDead;
    }

    /** Records (or re-records) a host whose agent presented the cluster's join token, and connects to it. */
    public Joined join(String authorization, JoinHost req) {
        if (joinToken == null) throw new EnclaveException.Forbidden("this controller accepts no remote hosts (no join token set)");
        if (!MessageDigest.isEqual(bearer(authorization), joinToken)) {
            throw new EnclaveException.Unauthorized("a valid join token is required to add a host");
        }
        X509Certificate certificate = validate(req);
        String secretHash = sha256Hex(req.agentSecret().getBytes(StandardCharsets.UTF_8));
        String certificatePem = Pem.of(certificate);
        Instant now = clock.instant();
        HostRow row = store.jdbi().inTransaction(h -> {
            var existing = store.hosts().lock(h, req.hostId());
            if (existing.isPresent()) {
                HostRow e = existing.get();
                if (e.agentSecretSha256() == null || !MessageDigest.isEqual(
                        e.agentSecretSha256().getBytes(StandardCharsets.US_ASCII), secretHash.getBytes(StandardCharsets.US_ASCII))) {
                    throw new EnclaveException.Conflict("host id " + req.hostId() + " is already registered by another"
                            + " agent; a host joins with a new id or with the secret it first joined with");
                }
                // A row without a certificate is a host recorded before agents served TLS: its first TLS join pins it.
                if (e.agentCertificate() != null && !sameCertificate(e.agentCertificate(), certificate)) {
                    throw new EnclaveException.Conflict("host id " + req.hostId() + " is already registered with another"
                            + " TLS certificate; a host keeps the certificate it first joined with (or joins with a new id)");
                }
            }
            boolean underlayTaken = store.hosts().list(h).stream().anyMatch(o -> !o.id().equals(req.hostId())
                    && req.underlayAddress().equals(o.underlayAddress()));
            if (underlayTaken) {
                throw new EnclaveException.Conflict("underlay address " + req.underlayAddress() + " is already used by another host");
            }
            HostRow r = new HostRow(new HostInfo(req.hostId(), req.name(), req.cpus(), req.memoryMib(), req.accelerator()),
                    "up", now, req.agentUrl(), certificatePem, secretHash, req.underlayAddress(), req.sharedStorage(),
                    req.sharedStoragePath(), existing.map(HostRow::maintenance).orElse("none"),
                    existing.map(HostRow::fenced).orElse(false));
            store.hosts().upsert(h, r, now);
            return r;
        });
        registry.register(RemoteHostAgent.connect(row.info(), row.agentUrl(), certificate, identity));
        log.info("host {} ({}) joined from {} (certificate sha256 {}, underlay {}, shared storage {}){}", row.id(),
                row.info().name(), row.agentUrl(), Pem.fingerprint(certificate), row.underlayAddress(), row.sharedStorage(),
                row.fenced() ? "; fenced until released" : "");
        return new Joined(row, identity.certificatePem());
    }

    public void heartbeat(String hostId, String authorization, int cpus, long memoryMib) {
        HostRow row = store.jdbi().withHandle(h -> store.hosts().find(h, hostId))
                .orElseThrow(() -> new EnclaveException.NotFound("host", hostId));
        byte[] presented = sha256Hex(bearer(authorization)).getBytes(StandardCharsets.US_ASCII);
        if (row.agentSecretSha256() == null
                || !MessageDigest.isEqual(presented, row.agentSecretSha256().getBytes(StandardCharsets.US_ASCII))) {
            throw new EnclaveException.Unauthorized("the host's secret is required for its heartbeat");
        }
        store.jdbi().useTransaction(h -> store.hosts().heartbeat(h, hostId,
                new HostInfo(hostId, row.info().name(), cpus, memoryMib, row.info().accelerator()), clock.instant()));
        if (!"up".equals(row.status())) log.info("host {}: heartbeat again, host is up", hostId);
    }

    /** Reconnects to every remote host recorded (after a controller restart). */
    public void reconnectAll() {
        for (HostRow row : list()) {
            if (row.agentUrl() == null) continue;
            if (row.agentCertificate() == null) {
                log.warn("host {}: no TLS certificate on record (joined before agents served TLS); not called until its"
                        + " agent joins again", row.id());
                continue;
            }
            registry.register(RemoteHostAgent.connect(row.info(), row.agentUrl(), Pem.certificate(row.agentCertificate()),
                    identity));
        }
    }

    /** Declares dead every remote host whose last heartbeat is older than the limit. */
    public void checkHeartbeats() {
        Instant limit = clock.instant().minus(deadAfter);
        for (HostRow row : list()) {
            // A heartbeat recorded before this controller started says nothing about the silence since: while the
            // controller was down nobody could beat. Every host gets deadAfter from the start to show up.
            Instant heardOf = row.heartbeatAt().isAfter(startedAt) ? row.heartbeatAt() : startedAt;
            if (row.agentUrl() == null || !"up".equals(row.status()) || !heardOf.isBefore(limit)) continue;
            store.jdbi().useTransaction(h -> store.hosts().setStatus(h, row.id(), "down"));
            log.warn("host {}: no heartbeat since {}: declared down", row.id(), row.heartbeatAt());
            onHostDead.accept(row.id());
        }
    }

    public List<HostRow> list() {
        return store.jdbi().withHandle(h -> store.hosts().list(h));
    }

    public HostRow get(String hostId) {
        return store.jdbi().withHandle(h -> store.hosts().find(h, hostId))
                .orElseThrow(() -> new EnclaveException.NotFound("host", hostId));
    }

    /** Checks the request; returns the agent's certificate. */
    private static X509Certificate validate(JoinHost req) {
        Validator v = new Validator();
        X509Certificate certificate = null;
        if (v.present(req.agentCertificate(), "agentCertificate")) {
            try {
                certificate = Pem.certificate(req.agentCertificate());
                certificate.checkValidity();
            } catch (IllegalArgumentException e) {
                v.require(false, "agentCertificate", "must be an X.509 certificate in PEM (" + e.getMessage() + ")");
            } catch (GeneralSecurityException e) {
                v.require(false, "agentCertificate", "is expired or not yet valid");
            }
        }
        if (v.present(req.hostId(), "hostId")) {
            v.require(HOST_ID.matcher(req.hostId()).matches(), "hostId", "must look like host-<4 to 40 lowercase letters or digits>");
        }
        v.present(req.name(), "name");
        if (v.present(req.cpus(), "cpus")) v.require(req.cpus() >= 1, "cpus", "must be at least 1");
        if (v.present(req.memoryMib(), "memoryMib")) v.require(req.memoryMib() >= 128, "memoryMib", "must be at least 128");
        v.present(req.accelerator(), "accelerator");
        if (v.present(req.agentSecret(), "agentSecret")) {
            v.require(req.agentSecret().length() >= 32 && req.agentSecret().length() <= 128, "agentSecret",
                    "must be 32 to 128 characters");
        }
        if (v.present(req.agentUrl(), "agentUrl")) v.require(httpsUrl(req.agentUrl()), "agentUrl", "must be an https:// URL with a port");
        if (v.present(req.underlayAddress(), "underlayAddress")) {
            v.require(Ipv4.isValid(req.underlayAddress()), "underlayAddress", "must be an IPv4 address");
        }
        if (req.sharedStorage() != null) {
            v.require(SHARED_STORAGE.matcher(req.sharedStorage()).matches(), "sharedStorage", "must be a DNS label");
            v.require(req.sharedStoragePath() != null && req.sharedStoragePath().startsWith("/"), "sharedStoragePath",
                    "must be an absolute path when sharedStorage is set");
        }
        v.throwIfInvalid();
        return certificate;
    }

    private static boolean sameCertificate(String pem, X509Certificate certificate) {
        try {
            return Arrays.equals(Pem.certificate(pem).getEncoded(), certificate.getEncoded());
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    static String sha256Hex(byte[] secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no SHA-256", e);
        }
    }

    private static boolean httpsUrl(String url) {
        try {
            URI u = URI.create(url);
            return "https".equals(u.getScheme()) && u.getHost() != null && u.getPort() > 0;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static byte[] bearer(String authorization) {
        return authorization != null && authorization.startsWith("Bearer ")
                ? authorization.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
    }
}
