package dev.toboggan.cli.stress;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RecordsTest {

    @Test
    void keysAndValuesOfAnyLengthNameWhatTheyAreAndEveryByteIsChecked() {
        for (int keyLength : new int[] {8, 13, 16, 24}) {
            for (int valueLength : new int[] {16, 17, 100, 101}) {
                Records records = new Records(keyLength, valueLength);
                for (long index : new long[] {0, 1, 42, Long.MAX_VALUE}) {
                    byte[] key = records.key(index);
                    assertThat(key).hasSize(keyLength).isEqualTo(records.key(index));
                    assertThat(records.indexOf(key)).isEqualTo(index);
                    byte[] value = records.value(index, 7);
                    assertThat(value).hasSize(valueLength);
                    assertThat(records.versionOf(index, value)).isEqualTo(7);
                    assertThat(records.versionOf(index + 1, value)).as("another key's value").isEqualTo(-1);
                    for (int at = 0; at < valueLength; at++) {
                        byte[] damaged = value.clone();
                        damaged[at] ^= 1;
                        assertThat(records.versionOf(index, damaged)).as("value byte %d of %d damaged", at, valueLength)
                                .isNotEqualTo(7);
                    }
                    for (int at = 0; at < keyLength; at++) {
                        byte[] damaged = key.clone();
                        damaged[at] ^= 1;
                        assertThat(records.indexOf(damaged)).as("key byte %d of %d damaged", at, keyLength)
                                .isNotEqualTo(index);
                    }
                }
            }
        }
    }
}
