//! The stages of a frame's path and the lockstep that joins them.
//!
//! A [`FrameSource`] gives each tick's frames (the Bevy simulation, [`source`], or a frame
//! store's replay, [`crate::frames`]); each
//! [`Stage`] runs on its own thread and turns every frame of a tick into its output, in tick
//! order: masking ([`masking`]), anomaly + alerts + deployment storage ([`anomaly`]), and
//! recording (the [`crate::recorder::Recorder`]). [`lockstep`] joins them with bounded channels
//! and holds the source back so that tick t+1 is made only once tick t−k is recorded: the
//! source overlaps the stages, yet every stage sees the same ticks in the same order whatever k
//! and the thread counts are, so the records are identical for all of them.

pub mod anomaly;
pub mod masking;
pub mod source;

use crossbeam::channel::{bounded, Receiver, Sender};
use crowdtwin_agents::incidents::IncidentPlan;
use crowdtwin_agents::population::PersonSpec;
use crowdtwin_core::frame::{Frame, RgbaImage};
use crowdtwin_reports::records::{IncidentRecord, PersonRecord};
use crowdtwin_vision::alerts::Alert;
use crowdtwin_vision::anomaly::AnomalyOutput;
use crowdtwin_vision::masking::MaskOutput;

/// Where a tick's frames come from.
pub trait FrameSource {
    /// Ticks the source gives in all.
    fn ticks(&self) -> u64;
    /// The next tick's frames, cameras in scenario order (none when no camera is due).
    ///
    /// # Errors
    /// The source's own (a render error, a store that cannot be read).
    fn next_tick(&mut self) -> anyhow::Result<Vec<Frame>>;
    /// Who and what the run stages (exact ground truth, known before the first tick).
    fn staged(&self) -> Staged;
}

/// The persons and incidents of a run as its records: what the recorder scores against.
#[derive(Clone, Debug, PartialEq)]
pub struct Staged {
    /// Every simulated person, by id.
    pub persons: Vec<PersonRecord>,
    /// Every staged incident or protected activity, by index (not yet scored: `detected` false).
    pub incidents: Vec<IncidentRecord>,
}

impl Staged {
    /// The records of a simulation's persons and incident plans.
    pub fn new(persons: &[PersonSpec], plans: &[IncidentPlan]) -> Staged {
        let persons = persons.iter().map(|p| PersonRecord::new(p.id, p.demographics, p.height_m as f64)).collect();
        let incidents = plans
            .iter()
            .map(|plan| IncidentRecord {
                incident: plan.index,
                kind: plan.kind.name().to_string(),
                protected: plan.protected,
                out_of_scope: false,
                start_tick: plan.start_tick,
                end_tick: plan.end_tick,
                persons: plan.participants.clone(),
                objects: plan.objects.clone(),
                centre_x: plan.centre.x as f64,
                centre_z: plan.centre.y as f64,
                intensity: plan.intensity as f64,
                detected: false,
                time_to_alert_s: None,
            })
            .collect();
        Staged { persons, incidents }
    }
}

/// What a stage is told about the tick a frame belongs to.
#[derive(Clone, Copy, Debug)]
pub struct TickInfo {
    /// Tick number, from 0.
    pub tick: u64,
    /// Wall-clock milliseconds the source took to make the tick (a measurement, not a result).
    pub source_ms: f64,
}

/// One stage of a frame's path: called once per frame, frames in tick order and, within a
/// tick, in camera order. In-process today; a remote form implements the same trait.
pub trait Stage: Send {
    /// What reaches the stage for one frame.
    type Input: Send;
    /// What it passes on for that frame.
    type Output: Send;
    /// Names the stage in errors ("the masking stage panicked").
    const NAME: &'static str;
    /// Processes one frame.
    ///
    /// # Errors
    /// The stage's own; the run stops and reports it.
    fn process(&mut self, tick: TickInfo, input: Self::Input) -> anyhow::Result<Self::Output>;
}

/// A frame after masking.
pub struct Masked {
    /// The frame with its ground truth (the raw image goes no further than the anomaly stage's storage).
    pub frame: Frame,
    /// What the masker made of it.
    pub mask: MaskOutput,
    /// A vendor pipeline's own anomaly output for the frame (it scores before crowdtwin sees
    /// the mask); `None` when crowdtwin's anomaly model scores the masked frame.
    pub vendor_anomaly: Option<AnomalyOutput>,
}

/// A frame after masking and anomaly scoring, with the alerts its scoring closed (and the
/// operator's view of each, when kept).
pub struct Scored {
    /// The frame with its ground truth.
    pub frame: Frame,
    /// What the masker made of it.
    pub mask: MaskOutput,
    /// The anomaly model's output on the masked frame.
    pub anomaly: AnomalyOutput,
    /// Alerts closed on this frame.
    pub closed: Vec<(Alert, Option<RgbaImage>)>,
}

/// A tick on its way between stages.
struct Tick<T> {
    info: TickInfo,
    items: Vec<T>,
}

/// Runs every tick of `source` through the three stages, `depth` ticks ahead at most, calling
/// `progress(recorded, total)` as ticks are recorded; gives the stages back for their
/// end-of-run work.
///
/// # Errors
/// The first of: the source's error; then each stage's error or panic, in path order (masking,
/// anomaly, recording); fewer ticks recorded than the source gave.
pub fn lockstep<M, A, R>(
    source: &mut dyn FrameSource,
    depth: usize,
    (masking, anomaly, recording): (M, A, R),
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<(M, A, R)>
where
    M: Stage<Input = Frame>,
    A: Stage<Input = M::Output>,
    R: Stage<Input = A::Output, Output = ()>,
{
    let total = source.ticks();
    let (to_masking, masking_inbox) = bounded(depth + 1);
    let (to_anomaly, anomaly_inbox) = bounded(depth + 1);
    let (to_recording, recording_inbox) = bounded(depth + 1);
    let (recorded, recorded_inbox) = bounded(depth + 2);
    std::thread::scope(|scope| {
        let masking = scope.spawn(move || run_stage(masking, masking_inbox, to_anomaly));
        let anomaly = scope.spawn(move || run_stage(anomaly, anomaly_inbox, to_recording));
        let recording = scope.spawn(move || run_stage(recording, recording_inbox, recorded));
        let mut done = 0u64;
        let fed = feed(source, total, depth as u64, &to_masking, &recorded_inbox, &mut done, &mut progress);
        drop(to_masking);
        for _ in recorded_inbox.iter() {
            done += 1;
            progress(done, total);
        }
        let masking = joined(masking.join(), M::NAME);
        let anomaly = joined(anomaly.join(), A::NAME);
        let recording = joined(recording.join(), R::NAME);
        fed?;
        let stages = (masking?, anomaly?, recording?);
        anyhow::ensure!(done == total, "the pipeline recorded {done} of {total} ticks");
        Ok(stages)
    })
}

/// The source's side of the lockstep: makes tick t only once tick t − depth is recorded.
fn feed(
    source: &mut dyn FrameSource,
    total: u64,
    depth: u64,
    to_masking: &Sender<Tick<Frame>>,
    recorded: &Receiver<Tick<()>>,
    done: &mut u64,
    progress: &mut impl FnMut(u64, u64),
) -> anyhow::Result<()> {
    for tick in 0..total {
        while *done + depth < tick {
            // The stages stopped early only on an error, reported by the caller.
            let Ok(_) = recorded.recv() else { return Ok(()) };
            *done += 1;
            progress(*done, total);
        }
        let started = std::time::Instant::now();
        let items = source.next_tick()?;
        let info = TickInfo { tick, source_ms: started.elapsed().as_secs_f64() * 1e3 };
        if to_masking.send(Tick { info, items }).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// A stage's thread: every tick's frames through the stage, in order; the stage is given back.
fn run_stage<S: Stage>(mut stage: S, inbox: Receiver<Tick<S::Input>>, outbox: Sender<Tick<S::Output>>) -> anyhow::Result<S> {
    for Tick { info, items } in inbox {
        let items = items.into_iter().map(|item| stage.process(info, item)).collect::<anyhow::Result<Vec<_>>>()?;
        if outbox.send(Tick { info, items }).is_err() {
            break; // a later stage stopped: its error is reported
        }
    }
    Ok(stage)
}

fn joined<S>(result: std::thread::Result<anyhow::Result<S>>, name: &str) -> anyhow::Result<S> {
    result.map_err(|_| anyhow::anyhow!("the {name} stage panicked"))?
}
