//! Receipts: what a queue hands out with each claimed job and takes back to
//! settle it. Each driver picks its own type (a row id and a fencing token,
//! a delivery tag, ...); the worker holds them without knowing the type,
//! as an [`AnyReceipt`].

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// What a receipt type must be: plain data the worker can copy, compare
/// and keep in a set. Implemented for every such type.
pub trait Receipt: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static {}

impl<T: Clone + Eq + Hash + fmt::Debug + Send + Sync + 'static> Receipt for T {}

/// A receipt of any driver's type, as the worker and the commands hold it.
/// Two are equal when they hold equal values of the same type.
///
/// ```
/// use fastevent::driver::durable::AnyReceipt;
///
/// let receipt = AnyReceipt::new((17_i64, 2_i64));
/// assert_eq!(receipt, AnyReceipt::new((17_i64, 2_i64)));
/// assert_ne!(receipt, AnyReceipt::new(17_i64));
/// assert_eq!(receipt.downcast_ref::<(i64, i64)>(), Some(&(17, 2)));
/// ```
#[derive(Clone)]
pub struct AnyReceipt(Arc<dyn ReceiptObject>);

impl AnyReceipt {
    /// Wraps a driver's receipt.
    pub fn new<R: Receipt>(receipt: R) -> Self {
        Self(Arc::new(receipt))
    }

    /// The driver's receipt, if it is of type `R`.
    pub fn downcast_ref<R: Receipt>(&self) -> Option<&R> {
        self.0.as_any().downcast_ref()
    }
}

impl PartialEq for AnyReceipt {
    fn eq(&self, other: &Self) -> bool {
        self.0.equals(other.0.as_any())
    }
}

impl Eq for AnyReceipt {}

impl Hash for AnyReceipt {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash_into(state);
    }
}

impl fmt::Debug for AnyReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// The object-safe face of a [`Receipt`]: `Eq` and `Hash` take `Self`,
/// which a trait object cannot, so they go through `Any`.
trait ReceiptObject: fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn equals(&self, other: &dyn Any) -> bool;
    fn hash_into(&self, state: &mut dyn Hasher);
}

impl<R: Receipt> ReceiptObject for R {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn equals(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<R>() == Some(self)
    }

    fn hash_into(&self, mut state: &mut dyn Hasher) {
        self.hash(&mut state);
    }
}

#[cfg(test)]
mod tests {
    use super::AnyReceipt;
    use std::collections::HashSet;

    #[test]
    fn receipts_of_equal_values_are_one_set_member_and_other_types_are_not() {
        let set: HashSet<AnyReceipt> = [
            AnyReceipt::new(1_i64),
            AnyReceipt::new(1_i64),
            AnyReceipt::new(1_u64),
            AnyReceipt::new((1_i64, 1_i64)),
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 3);
        assert!(set.contains(&AnyReceipt::new(1_u64)));
        assert!(!set.contains(&AnyReceipt::new(2_i64)));
    }
}
