"""The references bench/workers.py sets Runboard's executors beside: the same work as a trivial run, without
Runboard. Each task materialises the commit's tree in a temporary directory (`git archive | tar -x`), spawns
`sh -c true` there, and removes the directory (`tree`, issue 40's reference). The second kind of work, `checkout`,
is what a Runboard run cannot do without: a git repository at the commit that borrows the repository's objects
(`git init`, its alternates, `git checkout`) and `sh -c true` in a bwrap sandbox with the namespaces a run
gets; so the ratio against it is the cost of Runboard's own bookkeeping (queue, claim, state, output, events).

- bare Celery: this module is also the Celery app its workers load
  (`celery -A bare_celery worker --pool=threads --concurrency=N`), with the broker in BARE_CELERY_BROKER and
  the settings Runboard's own app uses (celery_app.py: ack on receipt, one prefetched task per thread, no
  results); each finished task adds one to a Redis counter the bench reads.
- bare thread pool: the same functions (WORK) in a ThreadPoolExecutor of the local executor's cap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import redis
from celery import Celery

BROKER = os.environ.get('BARE_CELERY_BROKER', 'redis://127.0.0.1:6379/0')
TASK = 'bare.tree_and_true'

app = Celery('bare', broker=BROKER)
app.conf.update(
    task_acks_late=False,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    task_serializer='json',
    accept_content=['json'],
)
_counter = redis.Redis.from_url(BROKER)


def tree_and_true(repository: str, commit: str) -> None:
    """The work of a trivial run: the tree at `commit` in a fresh directory, `sh -c true` in it, gone again."""
    tree = tempfile.mkdtemp(prefix='bare-tree-')
    try:
        archive = subprocess.Popen(['git', 'archive', commit], cwd=repository, stdout=subprocess.PIPE)
        assert archive.stdout is not None
        subprocess.run(['tar', '-x', '-C', tree], stdin=archive.stdout, check=True)
        archive.stdout.close()
        if archive.wait() != 0:
            raise RuntimeError(f'git archive {commit} failed')
        subprocess.run(['sh', '-c', 'true'], cwd=tree, check=True)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def checkout_and_sandboxed_true(repository: str, commit: str) -> None:
    """A run's own work: a repository of its own at `commit`, `sh -c true` in a bwrap sandbox there, gone again."""
    parent = tempfile.mkdtemp(prefix='bare-checkout-')
    tree = os.path.join(parent, 'checkout')
    try:
        subprocess.run(['git', 'init', '-q', tree], check=True)  # borrowing the repository's objects, as
        with open(os.path.join(tree, '.git', 'objects', 'info', 'alternates'), 'w') as alternates:  # clone --shared
            alternates.write(os.path.join(repository, '.git', 'objects') + '\n')  # would, without copying its refs
        checkout = ['git', '-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', commit]
        subprocess.run(checkout, cwd=tree, check=True)
        sandbox = ['bwrap', '--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--cap-drop', 'ALL']
        for path in ('/usr', '/bin', '/lib', '/lib64', '/sbin', '/etc'):  # what a run sees of the system
            if os.path.islink(path):
                sandbox += ['--symlink', os.readlink(path), path]
            elif os.path.isdir(path):
                sandbox += ['--ro-bind', path, path]
        sandbox += ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp']
        sandbox += ['--bind', tree, tree, '--chdir', tree, '--', 'sh', '-c', 'true']
        subprocess.run(sandbox, check=True)
    finally:
        shutil.rmtree(parent, ignore_errors=True)


WORK = {'tree': tree_and_true, 'checkout': checkout_and_sandboxed_true}


@app.task(name=TASK)
def tree_and_true_task(repository: str, commit: str, counter: str, work: str = 'tree') -> None:
    WORK[work](repository, commit)
    _counter.incr(counter)
