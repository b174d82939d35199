"""A software prefetch for numba kernels (LLVM's ``llvm.prefetch``).

The accumulation of a block knows every star's target bin before it adds anything, so asking
for the cache line of the star ``PREFETCH_DISTANCE`` ahead hides the latency of a moment cube
that does not fit in L2 (a 16-replicate cube: measured 15–22 → 9 ns per star on one core).
numba exposes no prefetch, hence this intrinsic.
"""

from __future__ import annotations

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: stars ahead (tuned on a 80 000-bin × 16-replicate cube: 4 → 15.7, 16 → 9.3, 64 → 13.9 ns)
PREFETCH_DISTANCE = 16

# opaque pointers (LLVM >= 15) changed the intrinsic's mangled name
_NAME = "llvm.prefetch.p0" if binding.llvm_version_info >= (15,) else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint that ``arr[idx]`` will be written soon (no effect on results; never faults)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty, _ = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
        # rw = 1 (write), locality = 3 (keep in all cache levels), cache type = 1 (data)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
