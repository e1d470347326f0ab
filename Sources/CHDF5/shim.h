// HDF5's type and property constants are macros over mutable globals (H5T_NATIVE_FLOAT_g, ...),
// which Swift 6 cannot read; these inline functions hand them over.
#include <hdf5.h>
static inline hid_t chdf5_p_default(void)     { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void)         { return H5S_ALL; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_trunc(void)  { return H5F_ACC_TRUNC; }
static inline hid_t chdf5_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_c_s1(void)          { return H5T_C_S1; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
#include <stdio.h>
#include <string.h>

/// Turns off HDF5's automatic error printing on the calling thread; lenspipe reports errors itself.
/// The thread-safe library keeps one error stack, and one printing setting, per thread, so every
/// thread that calls into HDF5 must do this once (a thread-local flag makes repeats free).
static inline void chdf5_silence_errors(void) {
    static _Thread_local int silenced = 0;
    if (!silenced) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); silenced = 1; }
}

struct chdf5_error_text { char *buf; size_t size; int from_plugin_search; };

static inline herr_t chdf5_innermost_visit(unsigned n, const H5E_error2_t *e, void *data) {
    struct chdf5_error_text *t = (struct chdf5_error_text *)data;
    if (e == NULL || (t->buf[0] && !t->from_plugin_search)) return 0;
    // The plugin search's "can't open directory" sits innermost when a filter is unknown; the
    // entry above it says which filter, so it is only kept when nothing else is on the stack.
    int plugin_search = e->func_name && strncmp(e->func_name, "H5PL", 4) == 0;
    if (t->buf[0] && plugin_search) return 0;
    t->from_plugin_search = plugin_search;
    char minor[160] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0) minor[0] = 0;
    const char *desc = e->desc ? e->desc : "";
    const char *func = e->func_name ? e->func_name : "?";
    if (minor[0] && desc[0]) snprintf(t->buf, t->size, "%s: %s (%s)", func, desc, minor);
    else snprintf(t->buf, t->size, "%s: %s", func, desc[0] ? desc : minor);
    return 0;
}

/// Writes the innermost entry of the calling thread's HDF5 error stack (the function that failed,
/// its description and minor message; plugin-search entries only when there is nothing else) into
/// `buf`; returns the number of entries on the stack.
static inline int chdf5_innermost_error(char *buf, size_t size) {
    if (size == 0) return 0;
    buf[0] = 0;
    ssize_t n = H5Eget_num(H5E_DEFAULT);
    if (n <= 0) return 0;
    struct chdf5_error_text t = { buf, size, 0 };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, chdf5_innermost_visit, &t);
    return (int)n;
}

/// Empties the calling thread's error stack, so the next failure's stack is its own.
static inline void chdf5_clear_errors(void) { H5Eclear2(H5E_DEFAULT); }
