"""Every notebook in experiments/notebooks/ runs top to bottom, in its small mode, so none of them rots.

Each runs with nbclient in a fresh kernel of this Python (ipykernel's python3 kernel), in a temporary working
directory, with JAXGAN_NOTEBOOK_SMALL=1: a shortened run of the same experiment, on mock data where it would
download (CI has no internet). A notebook added to the folder is picked up by the glob.
"""

import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')
pytest.importorskip('ipykernel')

NOTEBOOKS = sorted((Path(__file__).parents[1] / 'experiments' / 'notebooks').glob('*.ipynb'))
KERNEL = 'python3'  # ipykernel's kernel spec: this environment's Python
CELL_TIMEOUT_S = 300  # one cell; a notebook's small mode takes well under a minute on 2 CPU cores
_DRAWS = ('plt.show()', 'display(Image(')  # calls whose cell must show a picture


def test_notebooks_are_found():
  assert NOTEBOOKS, 'no notebooks in experiments/notebooks/'


def test_kernel_is_this_python():
  """The kernel the notebooks run in is this environment's Python, so they test the jaxgan installed here."""
  notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('import sys; print(sys.prefix)')])
  nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=60).execute()
  assert notebook.cells[0].outputs[0]['text'].strip() == sys.prefix


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
  notebook = nbformat.read(path, as_version=4)
  assert not any(cell.get('outputs') for cell in notebook.cells), f'{path.name}: clear its outputs before committing'
  monkeypatch.setenv('JAXGAN_NOTEBOOK_SMALL', '1')  # the kernel inherits this process's environment
  client = nbclient.NotebookClient(
    notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S, resources={'metadata': {'path': str(tmp_path)}}
  )
  try:
    client.execute()
  except (nbclient.exceptions.CellExecutionError, nbclient.exceptions.CellTimeoutError) as e:
    pytest.fail(f'{path.name}: {_failure(notebook, e)}', pytrace=False)
  # A cell that draws shows its picture (a plot lost to a non-interactive matplotlib backend raises nothing).
  for number, cell in enumerate(notebook.cells, 1):
    if cell.cell_type == 'code' and any(call in cell.source for call in _DRAWS):
      images = [kind for output in cell.outputs for kind in output.get('data', {}) if kind.startswith('image/')]
      assert images, f'{path.name}: cell {number} shows no picture\n--- cell {number} ---\n{cell.source}'


def _failure(notebook: 'nbformat.NotebookNode', error: Exception) -> str:
  """The failing cell's number and source, then its error with the traceback (ANSI colours removed)."""
  for number, cell in enumerate(notebook.cells, 1):
    for output in cell.get('outputs', ()):
      if output.get('output_type') == 'error':
        traceback = re.sub(r'\x1b\[[0-9;]*m', '', '\n'.join(output.get('traceback', ())))
        return f'cell {number} failed\n--- cell {number} ---\n{cell.source}\n--- error ---\n{traceback}'
  return f'a cell failed or ran past {CELL_TIMEOUT_S} s\n{error}'
