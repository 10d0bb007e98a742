package dev.toboggan.pekko;

import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.NonPersistentRepr;
import org.apache.pekko.persistence.PersistentEnvelope;
import org.apache.pekko.persistence.PersistentRepr;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Sends the replies to the journal's {@code WriteMessages} calls in the order the journal received the calls,
 * whatever order and thread their outcomes arrive in: what Pekko's {@code AsyncWriteJournal} does with its
 * resequencer actor (two messages per event), done here with one message per event, sent by whichever
 * thread completes the oldest outstanding call. A persistent actor relies on this order: it matches each
 * {@code WriteMessageSuccess} with the oldest of its pending invocations, and it may have a second call in
 * flight once the first's {@code WriteMessagesSuccessful} arrived.
 *
 * <p>Implementation notes (lock-free).
 * <ul>
 *   <li>{@link #add} is called on the journal actor's thread only, once per call, in the order the calls are
 *       received and BEFORE the call's store work and flush start, so no outcome can arrive for a call that
 *       is not queued yet. The queue's order is the reply order.
 *   <li>A call's outcome ({@link Call#stored} or {@link Call#failed}) is set once, by any thread: its fields
 *       are written BEFORE the volatile {@code decided} flag, and a drainer reads {@code decided} BEFORE the
 *       fields.
 *   <li>{@link #drain} sends the replies of the decided calls at the head of the queue, stopping at the first
 *       undecided one. One thread drains at a time ({@code draining}, taken by compare-and-set); a thread
 *       that decides a call while another drains does not wait: after releasing {@code draining}, the drainer
 *       looks at the head again, and the deciding thread's own {@link #drain} call looks after it took
 *       {@code decided}'s write, so a decided head is always drained by one of the two (no lost wake-up).
 *   <li>A call is removed from the queue (by the drainer, its linearization point) before its replies are
 *       sent, and no other thread sends a reply for it: each reply is sent exactly once, in queue order.
 * </ul>
 * Sending is {@code tell}: it never blocks. The journal decides its calls on its dispatcher's threads, not
 * on the store's flusher thread (see {@link TobogganJournal}).
 */
final class WriteReplies {
    private final ConcurrentLinkedQueue<Call> calls = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean draining = new AtomicBoolean();
    /** The sender of {@code WriteMessagesSuccessful} / {@code WriteMessagesFailed}: the journal actor. */
    private final ActorRef journal;

    WriteReplies(ActorRef journal) {
        this.journal = journal;
    }

    /** One {@code WriteMessages} call: its request and, once decided, its outcome. */
    static final class Call {
        private final JournalProtocol.WriteMessages request;
        /** Per {@link AtomicWrite} of the request, in order: null if stored, the reason if rejected. */
        private List<Exception> rejections;
        /** Why the call as a whole failed (store error, timeout): every event of it is then reported failed. */
        private Throwable failure;
        /** Written last by the deciding thread, read first by the drainer. */
        private volatile boolean decided;

        Call(JournalProtocol.WriteMessages request) {
            this.request = request;
        }

        /** The call is done: each {@link AtomicWrite} stored and durable, or rejected as {@code rejections} says. */
        void stored(List<Exception> rejections) {
            this.rejections = rejections;
            this.decided = true;
        }

        /** The call failed as a whole: nothing of it is reported stored (some of it may be, see docs/pekko.md). */
        void failed(Throwable cause) {
            this.failure = cause;
            this.decided = true;
        }

        boolean decided() {
            return decided;
        }
    }

    /** The journal actor: the sender of the replies that are not to a repr's sender. */
    ActorRef journal() {
        return journal;
    }

    /** Queues {@code call} for its replies. Journal actor thread only, in the order calls are received. */
    void add(Call call) {
        calls.add(call);
    }

    /** Sends the replies of every decided call at the head of the queue. Any thread, after deciding a call. */
    void drain() {
        do {
            if (!draining.compareAndSet(false, true)) {
                return; // the drainer looks at the head again once it is done
            }
            try {
                Call head;
                while ((head = calls.peek()) != null && head.decided()) {
                    calls.poll();
                    reply(head);
                }
            } finally {
                draining.set(false);
            }
            Call head = calls.peek();
            if (head == null || !head.decided()) {
                return;
            }
        } while (true);
    }

    private void reply(Call call) {
        JournalProtocol.WriteMessages request = call.request;
        ActorRef actor = request.persistentActor();
        int instance = request.actorInstanceId();
        List<PersistentEnvelope> envelopes = CollectionConverters.asJava(request.messages());
        if (call.failure != null) {
            int atomicWrites = 0;
            for (PersistentEnvelope envelope : envelopes) {
                if (envelope instanceof AtomicWrite) {
                    atomicWrites++;
                }
            }
            actor.tell(new JournalProtocol.WriteMessagesFailed(call.failure, atomicWrites), journal);
        } else {
            actor.tell(JournalProtocol.WriteMessagesSuccessful$.MODULE$, journal);
        }
        int atomicWrite = 0;
        for (PersistentEnvelope envelope : envelopes) {
            if (envelope instanceof AtomicWrite write) {
                Exception rejected = call.failure == null ? call.rejections.get(atomicWrite) : null;
                atomicWrite++;
                for (PersistentRepr repr : CollectionConverters.asJava(write.payload())) {
                    Object reply;
                    if (call.failure != null) {
                        reply = new JournalProtocol.WriteMessageFailure(repr, call.failure, instance);
                    } else if (rejected != null) {
                        reply = new JournalProtocol.WriteMessageRejected(repr, rejected, instance);
                    } else {
                        reply = new JournalProtocol.WriteMessageSuccess(repr, instance);
                    }
                    actor.tell(reply, repr.sender());
                }
            } else if (envelope instanceof NonPersistentRepr loop) {
                actor.tell(new JournalProtocol.LoopMessageSuccess(loop.payload(), instance), loop.sender());
            }
        }
    }
}
