"""The crowd model's peer: JuPedSim's collision-free speed model (Tordeux, Chraibi and Seyfried
2016; PyPI `jupedsim`) on the corridor `crowdtwin bench-peers` runs its own model on.

Reads one JSON object on stdin — the corridor (length, width), the time step, warm-up and
measuring times, the measuring section, the model's parameters and, per density, every agent's
start position (the very agents crowdtwin places) — and prints one JSON object: per density the
mean speed in the walking direction of the agents inside the measuring section, the agent steps
simulated, the seconds of the whole loop and those of `Simulation.iterate` alone (JuPedSim's C++
core: the figure the benchmark compares).

The corridor is walled along both long sides and open at its ends: an agent that walks past the
far end is removed and put back at the near end, at the same lateral position, as soon as no one
stands there (JuPedSim has no periodic boundary and refuses overlapping agents; until then the
agent walks on past the end). crowdtwin's side runs the same open corridor by the same rule.
"""

import json
import sys
import time

import jupedsim as jps


def run(config: dict, density: dict) -> dict:
    length, width, dt = config["length_m"], config["width_m"], config["dt_s"]
    p = config["model"]
    model = jps.CollisionFreeSpeedModel(
        strength_neighbor_repulsion=p["repulsion"],
        range_neighbor_repulsion=p["repulsion_range_m"],
        strength_geometry_repulsion=p["wall_repulsion"],
        range_geometry_repulsion=p["wall_range_m"],
    )
    # Room beyond the far end: an agent waits there, walking on, until its place at the near end is free.
    far = length + 20.0
    geometry = [(-1.0, 0.0), (far, 0.0), (far, width), (-1.0, width)]
    simulation = jps.Simulation(model=model, geometry=geometry, dt=dt)
    exit_id = simulation.add_exit_stage([(far - 1.0, 0.0), (far, 0.0), (far, width), (far - 1.0, width)])
    journey_id = simulation.add_journey(jps.JourneyDescription([exit_id]))

    def add(x: float, y: float) -> int:
        return simulation.add_agent(
            jps.CollisionFreeSpeedModelAgentParameters(
                position=(x, y),
                time_gap=p["time_gap_s"],
                desired_speed=p["free_speed_mps"],
                radius=p["radius_m"],
                journey_id=journey_id,
                stage_id=exit_id,
            )
        )

    for x, y in density["positions"]:
        add(x, y)
    count = len(density["positions"])
    steps = int(round((config["warm_up_s"] + config["measure_s"]) / dt))
    warm_steps = int(round(config["warm_up_s"] / dt))
    lo, hi = config["measure_from_m"], config["measure_to_m"]
    travelled, samples, iterating = 0.0, 0, 0.0
    started = time.perf_counter()
    for step in range(steps):
        before = {agent.id: agent.position for agent in simulation.agents()}
        tick = time.perf_counter()
        simulation.iterate()
        iterating += time.perf_counter() - tick
        for agent in list(simulation.agents()):
            x, y = agent.position
            old = before.get(agent.id)
            if step >= warm_steps and old is not None and lo <= old[0] < hi:
                travelled += x - old[0]
                samples += 1
            if x >= length:
                # JuPedSim refuses an agent overlapping another: it comes back once there is room.
                try:
                    add(x - length, y)
                except RuntimeError:
                    continue
                simulation.mark_agent_for_removal(agent.id)
    seconds = time.perf_counter() - started
    # Mean speed = distance walked in the section ÷ (agent-steps spent in it × dt).
    speed = travelled / (samples * dt) if samples else 0.0
    return {
        "density_per_m2": density["density_per_m2"],
        "mean_speed_mps": speed,
        "agents": count,
        "agent_steps": count * steps,
        "seconds": seconds,
        "iterate_seconds": iterating,
    }


def main() -> int:
    config = json.load(sys.stdin)
    json.dump({"jupedsim": jps.__version__, "runs": [run(config, d) for d in config["densities"]]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
