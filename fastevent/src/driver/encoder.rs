//! The step every durable driver shares: the jobs of a dispatched event,
//! each an envelope signed with the configured key and checked against
//! the size limit, ready to store or send.

use super::{DriverError, JobBatch};
use crate::job::{self, EncodedJob, JobDefaults, JobSigner};
use crate::{observe, stats};

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

    /// What to record once `jobs` are stored: take it before the jobs are
    /// handed on, and [`record`](DispatchTally::record) it when the store
    /// said yes, so that [`stats`](crate::stats) and the
    /// `fastevent_jobs_dispatched_total` metric count this driver's jobs
    /// as they count the built-in ones'.
    pub fn tally(&self, jobs: &[EncodedJob]) -> DispatchTally {
        DispatchTally {
            jobs: jobs
                .iter()
                .map(|j| (j.event, j.listener, j.queue.clone()))
                .collect(),
        }
    }
}

/// The jobs of one dispatch, to count once they are stored (see
/// [`JobEncoder::tally`]).
#[must_use = "record it once the jobs are stored"]
pub struct DispatchTally {
    /// Event, listener and queue of each job.
    jobs: Vec<(&'static str, &'static str, String)>,
}

impl DispatchTally {
    /// The jobs were stored by `driver`: counts them.
    pub fn record(self, driver: &'static str) {
        stats::record_dispatched(self.jobs.len());
        for (event, listener, queue) in &self.jobs {
            observe::dispatched(event, listener, queue, driver);
        }
    }
}
