"""Concurrent inference requests for one model, batched for onnxruntime.

A request is a feed ``{input name: array}`` with the batch dimension first. The first
request to arrive opens a window of ``window`` seconds; the requests that arrive in it
(up to ``max_batch`` rows in all) with the same input shapes are concatenated and run
in one ``session.run`` on a worker thread, and each request gets its own rows of every
output back. While a batch runs the next one gathers, so under load batches fill
without waiting. A request bigger than ``max_batch`` rows runs alone.
"""

import asyncio
import collections

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
        observe: optional ``observe(rows, seconds)`` after each run (metrics).
    """

    def __init__(self, run, max_batch=16, window=0.005, observe=None):
        self.run, self.max_batch, self.window, self.observe = run, max(1, int(max_batch)), max(0.0, window), observe
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
            started = loop.time()
            try:
                outputs = await loop.run_in_executor(None, self.run, feed)
            except Exception as error:  # the callers answer it; the loop goes on
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            if self.observe is not None:
                self.observe(sum(job.rows for job in jobs), loop.time() - started)
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result({name: value[start:start + job.rows] for name, value in outputs.items()})
                start += job.rows
