package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.io.SimulatedStorage;
import java.util.List;
import org.junit.jupiter.api.Test;

class PageCacheSmokeTest {
    @Test
    void linksPagesOutAndRecovers() {
        SimulatedStorage disk = new SimulatedStorage();
        long pid;
        try (var pc = Stores.open(disk)) {
            assertThat(pc.wasRecovered()).isFalse();
            Page<List<Integer>> p = pc.allocate(List.of(1));
            pid = p.pid();
            for (int i = 2; i <= 25; i++) {
                CasResult<List<Integer>> r = pc.link(pid, p, i);
                assertThat(r.succeeded()).isTrue();
                p = r.page();
            }
            assertThat(p.fragmentCount()).isLessThanOrEqualTo(10);
            pc.flush();
            assertThat(pc.pageOut(pid)).isTrue();
            assertThat(pc.get(pid).value()).hasSize(25);
            System.out.println(pc.metrics().ops().values());
        }
        try (var pc = Stores.open(disk)) {
            assertThat(pc.wasRecovered()).isTrue();
            assertThat(pc.get(pid).value()).hasSize(25).startsWith(1, 2, 3).endsWith(25);
            System.out.println(pc.recoveryReport());
        }
    }
}
