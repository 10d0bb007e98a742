package dev.toboggan;

import dev.toboggan.core.pagecache.Page;
import java.util.Arrays;

/**
 * The nodes a writer went through on its way down to a leaf, one per level, top first: the version of
 * each that it read (a {@link Page} knows its pid). A split or a repair uses the entry one level up to
 * find the parent. Entries may be stale; every use re-reads the page. Confined to one thread.
 */
final class TreePath {
    private static final int INITIAL_DEPTH = 8;

    private Page<?>[] views = new Page<?>[INITIAL_DEPTH];
    private int depth;

    int depth() {
        return depth;
    }

    void push(Page<Node> view) {
        if (depth == views.length) {
            views = Arrays.copyOf(views, depth * 2);
        }
        views[depth++] = view;
    }

    void pop() {
        views[--depth] = null;
    }

    @SuppressWarnings("unchecked")
    Page<Node> view(int level) {
        return (Page<Node>) views[level];
    }

    void set(int level, Page<Node> view) {
        views[level] = view;
    }

    int leafLevel() {
        return depth - 1;
    }

    Page<Node> leaf() {
        return view(depth - 1);
    }
}
