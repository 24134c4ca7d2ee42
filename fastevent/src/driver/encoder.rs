//! The step every durable driver shares: the jobs of a dispatched event,
//! each an envelope signed with the configured key and checked against
//! the size limit, ready to store or send.

use super::{DriverError, JobBatch};
use crate::job::{self, EncodedJob, JobDefaults, JobSigner};

/// Turns a [`JobBatch`] into the jobs a durable driver stores: what
/// [`Config::durable_driver`](crate::Config::durable_driver) hands a
/// driver of your own, with the configured job defaults (tries, timeouts,
/// the size limit) and signing key, so that its jobs are the ones the
/// workers of the same configuration accept.
///
/// ```
/// use fastevent::driver::JobEncoder;
/// use fastevent::job::{JobDefaults, JobSigner};
///
/// let signer = JobSigner::new("a signing key of thirty-two bytes or more");
/// let encoder = JobEncoder::new(JobDefaults::default(), signer);
/// assert!(encoder.signer().is_some());
/// assert_eq!(encoder.defaults().tries, JobDefaults::default().tries);
/// ```
#[derive(Clone)]
pub struct JobEncoder {
    defaults: JobDefaults,
    signer: Option<JobSigner>,
}

impl JobEncoder {
    /// Jobs with `defaults`, signed with `signer` when there is one.
    pub fn new(defaults: JobDefaults, signer: Option<JobSigner>) -> Self {
        Self { defaults, signer }
    }

    /// The job defaults.
    pub fn defaults(&self) -> &JobDefaults {
        &self.defaults
    }

    /// The signing key, if jobs are signed.
    pub fn signer(&self) -> Option<&JobSigner> {
        self.signer.as_ref()
    }

    /// One job per listener of `batch`, or the error `driver` returns for
    /// the whole dispatch (an event that does not serialize, a job over
    /// the size limit): then none is stored.
    pub fn encode(
        &self,
        batch: &JobBatch,
        driver: &'static str,
    ) -> Result<Vec<EncodedJob>, DriverError> {
        job::encode_batch(batch, &self.defaults, self.signer.as_ref()).map_err(|e| DriverError {
            driver,
            event: batch.event_name(),
            message: e.to_string(),
            source: Some(Box::new(e)),
        })
    }
}
