// A verify worker that dies as it starts, as one would with a broken install: the pool's restart
// pause, tested for real.
throw new Error('this worker never starts')
