//! Frame sources: the Bevy simulation (each tick simulated, every due camera rendered and read
//! back with its ground truth).

use super::{FrameSource, Staged};
use crowdtwin_core::frame::Frame;
use crowdtwin_core::scenario::Scenario;
use crowdtwin_sim::{SimOptions, Simulation};

/// The simulated site as a frame source.
pub struct SimulationSource {
    sim: Simulation,
    ticks: u64,
}

impl SimulationSource {
    /// Builds the simulation of `scenario` (Bevy app, site, crowd, cameras); `log` lets Bevy log warnings.
    ///
    /// # Errors
    /// When the renderer cannot start or the scenario's assets are missing.
    pub fn new(scenario: &Scenario, log: bool) -> anyhow::Result<Self> {
        Ok(SimulationSource { sim: Simulation::new(scenario, &SimOptions { log })?, ticks: scenario.total_ticks() })
    }
}

impl FrameSource for SimulationSource {
    fn ticks(&self) -> u64 {
        self.ticks
    }

    fn next_tick(&mut self) -> anyhow::Result<Vec<Frame>> {
        Ok(self.sim.step()?) // simulate the tick, render due cameras, read back, ground truth
    }

    fn staged(&self) -> Staged {
        Staged::new(self.sim.persons(), self.sim.incidents())
    }
}
