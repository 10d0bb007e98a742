package dev.toboggan.core.pagecache;

import java.util.HashMap;

/**
 * Which resident page to page out next: W-TinyLFU (Einziger, Friedman, Manes; as Caffeine), by weight
 * (estimated heap bytes) rather than by count. Not thread-safe: confined to whoever holds the
 * {@link CacheEvictor}'s lock.
 *
 * <ul>
 *   <li>A page seen for the first time enters the <b>window</b>, a small LRU ({@value #WINDOW_PERCENT}
 *       % of the capacity), so a burst of new pages does not flush the main area.
 *   <li>The <b>main</b> area is a segmented LRU: <b>probation</b>, and <b>protected</b>
 *       ({@value #PROTECTED_PERCENT} % of main), which a page enters when it is seen again while on
 *       probation. Protected overflow goes back to probation.
 *   <li><b>Admission</b>: when the window is over its share, its least recent page (the candidate)
 *       competes with main's least recent page (the victim) by {@link FrequencySketch frequency}: the
 *       less frequent one is paged out; a candidate that wins moves to probation. A scan of cold pages
 *       therefore loses against a hot working set: each of its pages was seen once.
 * </ul>
 *
 * The policy's weights are those last seen; the cache's true total is the core's counter. Pages
 * the policy never heard of (its buffers are lossy) are adopted from the page table by the evictor.
 */
final class CachePolicy {
    /** Heap bytes of one tracked page's policy entry (node, map entry, boxed key), counted in its weight. */
    static final int ENTRY_BYTES = 96;
    static final int WINDOW_PERCENT = 1;
    static final int PROTECTED_PERCENT = 80;

    private static final byte WINDOW = 0;
    private static final byte PROBATION = 1;
    private static final byte PROTECTED = 2;

    private final HashMap<Long, Node> nodes = new HashMap<>();
    private final Queue[] queues = {new Queue(), new Queue(), new Queue()};
    private final FrequencySketch sketch = new FrequencySketch();
    private final long windowMax;
    private final long mainMax;
    private final long protectedMax;

    CachePolicy(long capacity) {
        this.windowMax = Math.max(1, capacity * WINDOW_PERCENT / 100);
        this.mainMax = capacity - windowMax;
        this.protectedMax = mainMax * PROTECTED_PERCENT / 100;
    }

    /** Pages tracked. */
    int size() {
        return nodes.size();
    }

    boolean contains(long pid) {
        return nodes.containsKey(pid);
    }

    /** The policy's sum of the weights of the pages it tracks. */
    long weight() {
        return queues[WINDOW].weight + queues[PROBATION].weight + queues[PROTECTED].weight;
    }

    /** An access to the resident page {@code pid} whose weight is now {@code weight}. */
    void recordAccess(long pid, int weight) {
        sketch.increment(pid);
        Node node = nodes.get(pid);
        if (node == null) {
            admit(pid, weight, WINDOW);
            return;
        }
        queues[node.queue].reweigh(node, weight);
        switch (node.queue) {
            case WINDOW, PROTECTED -> queues[node.queue].moveToHead(node);
            default -> {
                queues[PROBATION].remove(node);
                queues[PROTECTED].addHead(node, PROTECTED);
                while (queues[PROTECTED].weight > protectedMax && queues[PROTECTED].tail() != node) {
                    Node demoted = queues[PROTECTED].tail();
                    queues[PROTECTED].remove(demoted);
                    queues[PROBATION].addHead(demoted, PROBATION);
                }
            }
        }
    }

    /** A resident page found in the page table rather than in the buffers: joins probation. */
    void adopt(long pid, int weight) {
        if (!nodes.containsKey(pid)) {
            admit(pid, weight, PROBATION);
        }
    }

    private void admit(long pid, int weight, byte queue) {
        Node node = new Node(pid, weight);
        nodes.put(pid, node);
        sketch.ensureCapacity(nodes.size());
        queues[queue].addHead(node, queue);
    }

    /** Forgets {@code pid} (it was paged out, freed, or is not resident any more). */
    void remove(long pid) {
        Node node = nodes.remove(pid);
        if (node != null) {
            queues[node.queue].remove(node);
        }
    }

    /**
     * The page to page out next, or -1 if the policy tracks nothing. Window overflow moves to probation
     * here: without a contest while main has room, else by admission (see the class notes). The caller
     * removes the victim once it is out.
     */
    long victim() {
        Queue window = queues[WINDOW];
        while (true) {
            Node mainVictim = queues[PROBATION].tail() != null ? queues[PROBATION].tail() : queues[PROTECTED].tail();
            Node candidate = window.tail();
            if (window.weight <= windowMax || candidate == null) {
                return mainVictim != null ? mainVictim.pid : candidate != null ? candidate.pid : -1;
            }
            long mainWeight = queues[PROBATION].weight + queues[PROTECTED].weight;
            if (mainVictim == null || mainWeight + candidate.weight <= mainMax) {
                window.remove(candidate); // main has room for it: no contest
                queues[PROBATION].addHead(candidate, PROBATION);
                continue;
            }
            if (sketch.frequency(candidate.pid) > sketch.frequency(mainVictim.pid)) {
                window.remove(candidate);
                queues[PROBATION].addHead(candidate, PROBATION);
                return mainVictim.pid;
            }
            return candidate.pid;
        }
    }

    /** Puts a victim that cannot go out yet at the head of its queue, so the next one is tried. */
    void skip(long pid) {
        Node node = nodes.get(pid);
        if (node != null) {
            queues[node.queue].moveToHead(node);
        }
    }

    private static final class Node {
        final long pid;
        int weight;
        byte queue;
        Node prev;
        Node next;

        Node(long pid, int weight) {
            this.pid = pid;
            this.weight = weight;
        }
    }

    /** A doubly linked LRU list, most recent at the head, with its total weight. */
    private static final class Queue {
        private final Node sentinel = new Node(-1, 0);
        long weight;

        Queue() {
            sentinel.prev = sentinel;
            sentinel.next = sentinel;
        }

        Node tail() {
            return sentinel.prev == sentinel ? null : sentinel.prev;
        }

        void addHead(Node node, byte queue) {
            node.queue = queue;
            node.prev = sentinel;
            node.next = sentinel.next;
            sentinel.next.prev = node;
            sentinel.next = node;
            weight += node.weight;
        }

        void remove(Node node) {
            node.prev.next = node.next;
            node.next.prev = node.prev;
            node.prev = null;
            node.next = null;
            weight -= node.weight;
        }

        void moveToHead(Node node) {
            byte queue = node.queue;
            remove(node);
            addHead(node, queue);
        }

        void reweigh(Node node, int newWeight) {
            weight += newWeight - node.weight;
            node.weight = newWeight;
        }
    }
}
