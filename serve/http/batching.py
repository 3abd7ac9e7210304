"""Concurrent inference requests for one model, batched for onnxruntime.

A request is a feed ``{input name: array}`` with the batch dimension first. The first
request to arrive opens a window of ``window`` seconds; the requests that arrive in it
(up to ``max_batch`` rows in all) with the same input shapes are concatenated and run
in one ``session.run`` on a worker thread, and each request gets its own rows of every
output back. While a batch runs the next one gathers, so under load batches fill
without waiting. A request bigger than ``max_batch`` rows runs alone, in runs of at most
``max_batch`` rows when ``split`` (the server's models with a free batch dimension): the
memory onnxruntime keeps for later runs (its CPU arena grows to the largest run seen and
does not shrink) is then bounded by ``--max-batch``, not by the largest request a client sends.
"""

import asyncio
import collections
import time

import numpy as np


class _Job:
    __slots__ = ("feed", "rows", "key", "future")

    def __init__(self, feed, future):
        self.feed = feed
        self.rows = next(iter(feed.values())).shape[0]
        self.key = tuple(sorted((name, array.shape[1:], array.dtype.str) for name, array in feed.items()))
        self.future = future


class Batcher:
    """Batches the feeds of one model.

    Args:
        run: ``run(feed) -> {output name: array}``, blocking (``session.run``); called
            on a worker thread, one batch at a time.
        max_batch: most rows in one run (1: no batching).
        window: seconds the first request of a batch waits for others.
        observe: optional ``observe(rows, seconds)`` after each run (metrics), called on
            the worker thread.
        split: run a request bigger than ``max_batch`` rows in slices of ``max_batch``
            rows (False: whole, for a model whose batch dimension is fixed).
    """

    def __init__(self, run, max_batch=16, window=0.005, observe=None, split=True):
        self.run, self.max_batch, self.window, self.observe = run, max(1, int(max_batch)), max(0.0, window), observe
        self.split = split
        self._queue = None
        self._task = None
        self._carry = collections.deque()

    def start(self):
        """Start the batching loop on the running event loop."""
        if self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self):
        """Stop the loop; requests still queued get an error."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        left = list(self._carry)
        self._carry.clear()
        while self._queue is not None and not self._queue.empty():
            left.append(self._queue.get_nowait())
        for job in left:
            if not job.future.done():
                job.future.set_exception(RuntimeError("the server is shutting down"))

    async def infer(self, feed):
        """The outputs for ``feed`` (``{output name: array}``, this feed's rows only)."""
        self.start()
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(feed, future))
        return await future

    async def _next(self, timeout):
        if timeout <= 0:
            return self._queue.get_nowait()
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _gather(self):
        """One batch: jobs of the first job's shapes, up to max_batch rows; the others wait
        (in order) for a later batch."""
        loop = asyncio.get_running_loop()
        first = self._carry.popleft() if self._carry else await self._queue.get()
        jobs, rows = [first], first.rows
        waiting = collections.deque()
        for job in self._carry:
            if job.key == first.key and rows + job.rows <= self.max_batch:
                jobs.append(job)
                rows += job.rows
            else:
                waiting.append(job)
        self._carry = waiting
        deadline = loop.time() + self.window
        while rows < self.max_batch:
            try:
                job = await self._next(deadline - loop.time())
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                break
            if job.key != first.key or rows + job.rows > self.max_batch:
                self._carry.append(job)
                if job.key == first.key:
                    break  # full
                continue
            jobs.append(job)
            rows += job.rows
        return jobs

    def _run(self, feed, rows):
        """``run(feed)``, in slices of at most ``max_batch`` rows when ``split``; observed."""
        parts = []
        step = self.max_batch if self.split else rows
        for start in range(0, rows, step):
            piece = feed if step >= rows else {name: array[start:start + step] for name, array in feed.items()}
            started = time.perf_counter()
            parts.append(self.run(piece))
            if self.observe is not None:
                self.observe(min(step, rows - start), time.perf_counter() - started)
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    async def _loop(self):
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            jobs = [job for job in jobs if not job.future.cancelled()]
            if not jobs:
                continue
            names = [name for name, _, _ in jobs[0].key]
            feed = {name: (jobs[0].feed[name] if len(jobs) == 1 else np.concatenate([job.feed[name] for job in jobs]))
                    for name in names}
            rows = sum(job.rows for job in jobs)
            try:
                outputs = await loop.run_in_executor(None, self._run, feed, rows)
            except Exception as error:  # the callers answer it; the loop goes on
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result({name: value[start:start + job.rows] for name, value in outputs.items()})
                start += job.rows
