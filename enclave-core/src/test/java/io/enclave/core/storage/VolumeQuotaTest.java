package io.enclave.core.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.enclave.core.error.FieldError;
import org.junit.jupiter.api.Test;

class VolumeQuotaTest {
    final VolumeQuota quota = new VolumeQuota(100, 3);

    @Test
    void admitsWhatFitsExactly() {
        assertThat(quota.exceededBy(90, 2, 10, 1)).isEmpty();
        assertThat(quota.exceededBy(90, 3, 5, 0)).isEmpty(); // growing adds size, not a volume
    }

    @Test
    void namesCountAndSize() {
        var errors = quota.exceededBy(95, 3, 10, 1);
        assertThat(errors).extracting(FieldError::field).containsExactly("volumes", "sizeGib");
        assertThat(errors.get(1).reason()).contains("only 5 of 100 GiB");
    }
}
