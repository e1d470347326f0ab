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
/// Turns off HDF5's automatic error printing; lenspipe reports errors itself.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
