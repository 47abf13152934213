"""The SimPy runtime: calendars, service-time distributions, stations and their probes.

Generic queueing machinery the models (payout, rollout, capacity, failover) build on; it knows
nothing of My Number. Simulation time is in hours from 00:00 on the calendar's first day.

    from twin.sim import BatchStation, Calendar, LogNormal, Station
"""

from twin.sim.batch import BatchStation
from twin.sim.calendar import Calendar, OpeningHours
from twin.sim.capacity import CapacityPlan, Failures, StaffSchedule, capacity_plan
from twin.sim.distributions import Deterministic, Distribution, Empirical, Exponential, Gamma, LogNormal
from twin.sim.holidays import holidays_in_year, is_holiday
from twin.sim.probes import CustomerLog, mean_occupancy, record_series
from twin.sim.station import Station

__all__ = [
    "BatchStation",
    "Calendar",
    "CapacityPlan",
    "CustomerLog",
    "Deterministic",
    "Distribution",
    "Empirical",
    "Exponential",
    "Failures",
    "Gamma",
    "LogNormal",
    "OpeningHours",
    "StaffSchedule",
    "Station",
    "capacity_plan",
    "holidays_in_year",
    "is_holiday",
    "mean_occupancy",
    "record_series",
]
