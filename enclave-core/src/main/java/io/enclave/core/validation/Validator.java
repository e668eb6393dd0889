package io.enclave.core.validation;

import io.enclave.core.error.EnclaveException;
import io.enclave.core.error.FieldError;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** Collects every field error of one request, so the caller learns all of them at once. */
public final class Validator {

    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private final List<FieldError> errors = new ArrayList<>();

    public Validator require(boolean condition, String field, String reason) {
        if (!condition) errors.add(new FieldError(field, reason));
        return this;
    }

    public boolean present(Object value, String field) {
        if (value == null) {
            errors.add(new FieldError(field, "is required"));
            return false;
        }
        return true;
    }

    public Validator dnsLabel(String value, String field) {
        if (present(value, field) && !isDnsLabel(value)) {
            errors.add(new FieldError(field, "must be a DNS label: 1-63 characters of a-z, 0-9 and '-', "
                    + "starting and ending with a letter or digit (got '" + value + "')"));
        }
        return this;
    }

    public Validator range(Long value, long min, long max, String field, String unit) {
        if (present(value, field) && (value < min || value > max)) {
            errors.add(new FieldError(field, "must be between " + min + " and " + max + unit + " (got " + value + ")"));
        }
        return this;
    }

    public static boolean isDnsLabel(String value) {
        return value != null && DNS_LABEL.matcher(value).matches();
    }

    public boolean hasErrors() {
        return !errors.isEmpty();
    }

    public List<FieldError> errors() {
        return List.copyOf(errors);
    }

    /** Throws {@link EnclaveException.InvalidRequest} naming every failed field, if any. */
    public void throwIfInvalid() {
        if (!errors.isEmpty()) throw new EnclaveException.InvalidRequest(errors);
    }
}
