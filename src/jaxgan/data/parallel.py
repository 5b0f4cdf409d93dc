"""Data parallelism over every device of every host, through JAX's own SPMD.

One mesh axis, `data`: each batch is split along it, the train state is
replicated. train_step is an ordinary jitted function of global arrays, so XLA
inserts the gradient all-reduces, and batch norm's statistics are those of the
global batch: a sharded step computes what one device would.

Several hosts: start the same program on each with JAX_COORDINATOR_ADDRESS
(host:port of process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID set, or with
JAXGAN_DISTRIBUTED=1 where jax.distributed.initialize detects the cluster
itself (Cloud TPU, Slurm, Open MPI). jaxgan-train does the rest itself (give
every process the same --workdir on a shared file system); in your own loop:

  parallel.initialize_from_environment()  # before any other JAX call
  mesh = parallel.data_mesh()
  state = parallel.replicate(create_state(config, jax.random.key(0), shape), mesh)
  for step in range(steps):
    rows = source.batches(step, 1, batch_size)[:, parallel.process_rows(batch_size)]
    state, metrics = train_step(state, parallel.shard_batches(rows, mesh)[0])

Each process reads only its rows of every global batch; tests/parallel_worker.py
runs this in two processes. On CPU devices keep the host at most a step or two
ahead (block on the previous step's metrics, as jaxgan-train does): further
ahead, XLA's CPU client can deadlock a multi-device step (jaxgan/run/loop.py says how).
"""

import math
import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = 'data'
MEMBERS_AXIS = 'members'  # populations (jaxgan.sweep): the member axis of the state and of each member's batches


def initialize_from_environment() -> bool:
  """Joins the multi-process cluster the environment describes; False when it describes none."""
  address = os.environ.get('JAX_COORDINATOR_ADDRESS')
  if address:
    # Collectives between CPU processes (tests, CPU clusters); accelerators use their own.
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    num_processes, process_id = (int(os.environ[name]) for name in ('JAX_NUM_PROCESSES', 'JAX_PROCESS_ID'))
    jax.distributed.initialize(address, num_processes, process_id)
    return True
  if os.environ.get('JAXGAN_DISTRIBUTED') == '1':
    jax.distributed.initialize()
    return True
  return False


def data_mesh() -> Mesh:
  """A one-axis mesh over all devices of all processes."""
  # Auto axes: XLA's partitioner propagates the batch sharding through every op.
  return jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def replicate(tree, mesh: Mesh):
  """Puts every leaf of `tree` (the same on every process) on all devices of all processes."""
  sharding = NamedSharding(mesh, P())

  def put(leaf):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      return jax.random.wrap_key_data(put(jax.random.key_data(leaf)), impl=jax.random.key_impl(leaf))
    value = np.asarray(leaf)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

  return jax.tree.map(put, tree)


def population_mesh(members: int) -> Mesh:
  """A (members, data) mesh over this process's devices: the members split over as many devices as divide
  their number, each member's batch over the rest."""
  devices = jax.device_count()
  on_members = math.gcd(members, devices)
  return jax.make_mesh(
    (on_members, devices // on_members), (MEMBERS_AXIS, DATA_AXIS), axis_types=(jax.sharding.AxisType.Auto,) * 2
  )


def shard_members(tree, mesh: Mesh):
  """Puts a population (every leaf [M, ...]) on the mesh, split along the member axis."""

  def put(leaf):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      return jax.random.wrap_key_data(put(jax.random.key_data(leaf)), impl=jax.random.key_impl(leaf))
    return jax.device_put(leaf, NamedSharding(mesh, P(MEMBERS_AXIS)))

  return jax.tree.map(put, tree)


def shard_population_batches(batches: np.ndarray | jax.Array, mesh: Mesh, own: bool) -> jax.Array:
  """Batches of K steps for a population: each member's own [K, M, B, ...] split along members and rows, or
  shared [K, B, ...] split along rows."""
  spec = P(None, MEMBERS_AXIS, DATA_AXIS) if own else P(None, DATA_AXIS)
  return jax.device_put(batches, NamedSharding(mesh, spec))


def process_rows(batch_size: int) -> slice:
  """The rows of a global batch that this process reads and holds."""
  devices = jax.device_count()
  if batch_size % devices:
    raise ValueError(f'batch of {batch_size} does not split over {devices} devices; make it a multiple of {devices}')
  per_process = batch_size // jax.process_count()
  return slice(jax.process_index() * per_process, (jax.process_index() + 1) * per_process)


def shard_batches(local: np.ndarray, mesh: Mesh, batch_axis: int = 1) -> jax.Array:
  """The global array of batches whose rows `process_rows` on each process holds.

  `local` is this process's part, split along `batch_axis` ([K, B, ...]
  chunks of K steps by default).
  """
  spec = P(*([None] * batch_axis), DATA_AXIS)
  return jax.make_array_from_process_local_data(NamedSharding(mesh, spec), local)
