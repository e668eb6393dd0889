package io.enclave.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigTest {
    @ParameterizedTest
    @CsvSource({
            "http://127.0.0.1:8470, http://127.0.0.1:8470/v1",
            "http://127.0.0.1:8470/, http://127.0.0.1:8470/v1",
            "http://127.0.0.1:8470/v1, http://127.0.0.1:8470/v1",
            "http://127.0.0.1:8470/v1/, http://127.0.0.1:8470/v1",
            "'  HTTP://host:1/v1//  ', http://host:1/v1",
            "https://example.com/enclave, https://example.com/enclave/v1",
            "https://example.com/enclave/v1, https://example.com/enclave/v1",
            "http://[::1]:8470, http://[::1]:8470/v1"})
    void normalisesTheBaseUrlToEndInV1(String raw, String expected) {
        assertThat(Config.normalise(raw)).hasToString(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:8470", "ftp://host/v1", "http:///v1", "http://host/v1?x=1", "http://ho st/"})
    void rejectsWhatIsNotAnHttpBaseUrl(String raw) {
        assertThatThrownBy(() -> Config.normalise(raw))
                .isInstanceOf(CliException.class)
                .hasMessageContaining("invalid API URL '" + raw + "'")
                .extracting(e -> ((CliException) e).exitCode()).isEqualTo(2);
    }

    @Test
    void flagsWinOverTheEnvironment() {
        Config c = Config.resolve("http://flag:1", "flag-token",
                Map.of("ENCLAVE_URL", "http://env:2", "ENCLAVE_TOKEN", "env-token"));
        assertThat(c.baseUrl()).hasToString("http://flag:1/v1");
        assertThat(c.token()).isEqualTo("flag-token");
    }

    @Test
    void theEnvironmentFillsWhatTheFlagsLeaveOut() {
        Config c = Config.resolve(null, "flag-token", Map.of("ENCLAVE_URL", "http://env:2/v1/", "ENCLAVE_TOKEN", "x"));
        assertThat(c.baseUrl()).hasToString("http://env:2/v1");
        assertThat(c.token()).isEqualTo("flag-token");
    }

    @Test
    void blankValuesCountAsMissing() {
        assertThatThrownBy(() -> Config.resolve(null, null, Map.of("ENCLAVE_URL", "http://h", "ENCLAVE_TOKEN", "  ")))
                .hasMessageContaining("no API token: pass --token or set ENCLAVE_TOKEN");
        assertThatThrownBy(() -> Config.resolve(" ", "t", Map.of()))
                .hasMessageContaining("no API URL: pass --url or set ENCLAVE_URL");
    }

    @Test
    void theTokenIsNotShownInToString() {
        assertThat(Config.resolve("http://h", "very-secret", Map.of()).toString()).doesNotContain("very-secret");
    }
}
