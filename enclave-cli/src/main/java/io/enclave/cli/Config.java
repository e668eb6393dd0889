package io.enclave.cli;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Map;

/**
 * Where the API is, how to authenticate, and (optionally) the SHA-256 fingerprint the controller's certificate
 * must have: from the flags, else from ENCLAVE_URL, ENCLAVE_TOKEN and ENCLAVE_FINGERPRINT.
 */
record Config(URI baseUrl, String token, String fingerprint) {
    static final String URL_ENV = "ENCLAVE_URL";
    static final String TOKEN_ENV = "ENCLAVE_TOKEN";
    static final String FINGERPRINT_ENV = "ENCLAVE_FINGERPRINT";

    static Config resolve(String urlFlag, String tokenFlag, Map<String, String> env) {
        return resolve(urlFlag, tokenFlag, null, env);
    }

    static Config resolve(String urlFlag, String tokenFlag, String fingerprintFlag, Map<String, String> env) {
        String url = firstPresent(urlFlag, env.get(URL_ENV));
        if (url == null) {
            throw CliException.usage("no API URL: pass --url or set " + URL_ENV + " (for example http://127.0.0.1:8470/v1)");
        }
        String token = firstPresent(tokenFlag, env.get(TOKEN_ENV));
        if (token == null) {
            throw CliException.usage("no API token: pass --token or set " + TOKEN_ENV);
        }
        URI base = normalise(url);
        String fingerprint = firstPresent(fingerprintFlag, env.get(FINGERPRINT_ENV));
        if (fingerprint != null) {
            if (!"https".equals(base.getScheme())) {
                throw CliException.usage("a certificate fingerprint (--fingerprint or " + FINGERPRINT_ENV
                        + ") needs an https:// API URL, not " + base);
            }
            try {
                fingerprint = io.enclave.tls.PinnedTls.normalizeFingerprint(fingerprint);
            } catch (IllegalArgumentException e) {
                throw CliException.usage("invalid --fingerprint: " + e.getMessage());
            }
        }
        return new Config(base, token, fingerprint);
    }

    /**
     * The API base ending in {@code /v1} without a trailing slash, whether or not {@code raw} had the
     * {@code /v1} suffix or a trailing slash.
     */
    static URI normalise(String raw) {
        String text = raw.strip();
        if (!text.contains("://")) throw invalid(raw, "must start with http:// or https://");
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw invalid(raw, "not a URL (" + e.getReason() + ")");
        }
        String scheme = uri.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))) {
            throw invalid(raw, "must start with http:// or https://");
        }
        if (uri.getHost() == null) throw invalid(raw, "has no host");
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw invalid(raw, "must not have a query or fragment");
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        while (path.endsWith("/")) path = path.substring(0, path.length() - 1);
        if (!path.endsWith("/v1")) path = path + "/v1";
        String authority = uri.getRawAuthority();
        return URI.create(scheme.toLowerCase() + "://" + authority + path);
    }

    private static CliException invalid(String raw, String why) {
        return CliException.usage("invalid API URL '" + raw + "': " + why);
    }

    private static String firstPresent(String flag, String env) {
        if (flag != null && !flag.isBlank()) return flag.strip();
        if (env != null && !env.isBlank()) return env.strip();
        return null;
    }

    @Override
    public String toString() {
        return "Config[baseUrl=" + baseUrl + ", token=***, fingerprint=" + fingerprint + "]";
    }
}
