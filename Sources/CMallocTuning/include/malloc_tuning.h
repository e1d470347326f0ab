#ifndef LENSPIPE_MALLOC_TUNING_H
#define LENSPIPE_MALLOC_TUNING_H
/// glibc allocator settings for training and fine-tuning (Swift's Glibc module does not import
/// malloc.h, hence this C target). No-ops off Linux.
///
/// Why they are still here with the step memory (`EsViTTrainer.LaneMemory`): a training step keeps its
/// activations, heads and loss buffers, but the fine-tune's steps and the monitor's inference batches
/// still allocate buffers above 128 KiB, which glibc would otherwise return to the kernel and
/// page-fault in again at every step.
/// One arena for every thread: the trainer's lanes run on two threads, and with an arena each, each
/// arena kept its own high-water mark (100k-sample run: peak RSS 927 MiB with per-thread arenas,
/// 731 MiB with one, at the same images/s).
void lenspipe_keep_freed_memory(void);
/// Returns the free blocks of every heap to the kernel once (after set-up, whose buffers are not
/// needed again; the kept-memory setting above would otherwise hold them for the whole run).
void lenspipe_release_freed_memory(void);
#endif
