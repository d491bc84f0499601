//! Code for the builtin table's operations (`crate::builtins`): the few declared
//! `Kernel::Inline` are emitted here; every other one stores its arguments' slots in a stack
//! slot and calls `fastiter_builtin`, whose status is 0, an `ErrCode`, or
//! `helpers::BUILTIN_INEXACT` (an int result past i64: the chunk is recomputed exactly).

use super::*;
use crate::builtins::{Func, Kernel};

impl Gen<'_, '_> {
    /// A table operation on evaluated arguments.
    pub(super) fn table_op(&mut self, f: Func, vals: &[Value]) -> Value {
        match f.op().kernel {
            Kernel::Inline => self.inline_op(f, vals),
            Kernel::Slots(_) | Kernel::Exact => self.helper_op(f, vals),
        }
    }

    fn inline_op(&mut self, f: Func, vals: &[Value]) -> Value {
        match f {
            Func::BitLength | Func::BitCount => {
                // |x| as an unsigned 64-bit number (-2**63 is 2**63).
                let x = vals[0];
                let neg = self.b.ins().ineg(x);
                let is_neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, 0);
                let m = self.b.ins().select(is_neg, neg, x);
                if f == Func::BitCount {
                    self.b.ins().popcnt(m)
                } else {
                    let z = self.b.ins().clz(m);
                    let w = self.b.ins().iconst(types::I64, 64);
                    self.b.ins().isub(w, z)
                }
            }
            Func::IntDivmodRem => {
                self.floor_divmod_code(BinOp::IMod, vals[0], vals[1], ErrCode::IntFloorDivZero)
            }
            Func::Copysign => self.b.ins().fcopysign(vals[0], vals[1]),
            Func::Degrees | Func::Radians => {
                let c = crate::pyops::floats::degrees(1.0);
                let c = if f == Func::Degrees {
                    c
                } else {
                    crate::pyops::floats::radians(1.0)
                };
                let k = self.b.ins().f64const(c);
                self.b.ins().fmul(vals[0], k)
            }
            Func::IsInteger => {
                let x = vals[0];
                let fl = self.b.ins().floor(x);
                let integral = self.b.ins().fcmp(FloatCC::Equal, fl, x);
                let a = self.b.ins().fabs(x);
                let inf = self.b.ins().f64const(f64::INFINITY);
                let finite = self.b.ins().fcmp(FloatCC::LessThan, a, inf);
                self.b.ins().band(integral, finite)
            }
            _ => self.helper_op(f, vals),
        }
    }

    /// `fastiter_builtin(code, nargs, slots)`: the arguments in, the result out, through
    /// one stack slot of 8 bytes an argument.
    fn helper_op(&mut self, f: Func, vals: &[Value]) -> Value {
        let n = vals.len().max(1);
        let ss = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (8 * n) as u32,
            3,
        ));
        let addr = self.b.ins().stack_addr(types::I64, ss, 0);
        for (i, &v) in vals.iter().enumerate() {
            let v = if self.b.func.dfg.value_type(v) == types::I8 {
                self.b.ins().uextend(types::I64, v)
            } else {
                v
            };
            self.b.ins().store(mem(), v, addr, (8 * i) as i32);
        }
        let code = self.b.ins().iconst(types::I32, i64::from(f.code()));
        let count = self.b.ins().iconst(types::I32, vals.len() as i64);
        let call = self.b.ins().call(self.builtin, &[code, count, addr]);
        let status = self.b.inst_results(call)[0];
        let inexact = self.b.ins().icmp_imm_s(
            IntCC::Equal,
            status,
            i64::from(helpers::BUILTIN_INEXACT as i32),
        );
        self.inexact_if(inexact);
        let failed = self.b.ins().icmp_imm_s(IntCC::NotEqual, status, 0);
        self.error_if_code(failed, status);
        let ty = f.op().result;
        if ty == Type::Bool {
            let w = self.b.ins().load(types::I64, mem(), addr, 0);
            self.b.ins().ireduce(types::I8, w)
        } else {
            self.b.ins().load(clif_type(ty), mem(), addr, 0)
        }
    }
}
