package exec

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"

	"hetalign/runner/plan"
)

// Priority orders ready steps: the step of the report with the least
// estimated work left runs first (so short reports complete, and print,
// early), and within a report the step on the longest remaining path to
// the report (its critical path) first. Equal priorities run in the
// graph's (topological) order.
type Priority struct {
	// Report is the estimated work (seconds of computation) left in the
	// cheapest report that needs the step.
	Report float64
	// Path is the estimated length (seconds) of the longest chain of
	// steps from this one to that report, this one included.
	Path float64
	// Index is the step's position in the graph (the tie-break).
	Index int
}

// Before reports whether p runs before q.
func (p Priority) Before(q Priority) bool {
	if p.Report != q.Report {
		return p.Report < q.Report
	}
	if p.Path != q.Path {
		return p.Path > q.Path
	}
	return p.Index < q.Index
}

// Priorities computes the Priority of every step of g that is to run
// (out[i] == nil; steps with an outcome are not looked at), from cost, the
// estimated seconds of each step (nil: every step costs 1). A report's
// work is the sum of the costs of the steps it needs that are to run; a
// step shared by several reports takes the cheapest one's. Steps are in
// topological order (inputs first), so one pass back from the reports
// gives each step its critical path.
func Priorities(g *plan.Graph, out []*Outcome, cost func(s *plan.Step) float64) []Priority {
	n := len(g.Steps)
	c := make([]float64, n)
	for i, s := range g.Steps {
		if out[i] != nil {
			continue
		}
		c[i] = 1
		if cost != nil {
			c[i] = max(0, cost(s))
		}
	}
	pr := make([]Priority, n)
	// owner[i] is the position in g.Reports of the report that gives step
	// i its priority (-1: none yet); seen stamps the steps a report's walk
	// has visited.
	owner := make([]int, n)
	for i := range owner {
		owner[i] = -1
		pr[i].Index = i
	}
	seen := make([]int32, n)
	work := make([]float64, len(g.Reports))
	var stack []*plan.Step
	for ri, r := range g.Reports {
		stamp := int32(ri + 1)
		stack = append(stack[:0], r.Step)
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[s.Index] == stamp || out[s.Index] != nil {
				continue
			}
			seen[s.Index] = stamp
			work[ri] += c[s.Index]
			stack = append(stack, s.Inputs...)
		}
	}
	for ri, r := range g.Reports {
		if i := r.Step.Index; out[i] == nil && (owner[i] < 0 || work[ri] < work[owner[i]]) {
			owner[i] = ri
		}
	}
	// tail[i]: the longest chain of costs strictly after step i up to its
	// owner's report. Users come after their inputs, so walking back
	// visits every user of a step before the step itself.
	tail := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := g.Steps[i]
		if out[i] != nil || owner[i] < 0 {
			continue
		}
		pr[i].Report = work[owner[i]]
		pr[i].Path = c[i] + tail[i]
		for _, in := range s.Inputs {
			j := in.Index
			if out[j] != nil {
				continue
			}
			switch {
			case owner[j] < 0 || work[owner[i]] < work[owner[j]]:
				owner[j] = owner[i]
				tail[j] = pr[i].Path
			case owner[j] == owner[i]:
				tail[j] = max(tail[j], pr[i].Path)
			}
		}
	}
	return pr
}

// readyQueue hands the run's slots (the CPU workers and the GPU slot) to
// ready steps in Priority order. A step is ready once every input has
// finished; the moment its last input finishes, before that input's slot
// is given back, it takes its place in the queue (reserve), so the freed
// slot goes to the best ready step even though the step's own goroutine
// has not yet woken up.
type readyQueue struct {
	cpu, gpu *slots
	prio     []Priority
	gpuStep  []bool
	steps    []*plan.Step
	users    [][]int32     // users[i]: the to-run steps that read step i
	left     []int32       // inputs of each to-run step not finished yet
	told     []atomic.Bool // finished was called for the step
	jobs     int
	// spawn starts the goroutine of a step that got a slot (set by
	// start).
	spawn func(s *plan.Step)
}

func newReadyQueue(g *plan.Graph, out []*Outcome, prio []Priority, jobs int) *readyQueue {
	n := len(g.Steps)
	q := &readyQueue{cpu: newSlots(0), gpu: newSlots(0), prio: prio, gpuStep: make([]bool, n), steps: g.Steps,
		users: make([][]int32, n), left: make([]int32, n), told: make([]atomic.Bool, n)}
	var ready []*plan.Step
	for i, s := range g.Steps {
		if out[i] != nil {
			continue
		}
		q.gpuStep[i] = s.GPU
		for _, in := range s.Inputs {
			if out[in.Index] == nil {
				q.left[i]++
				q.users[in.Index] = append(q.users[in.Index], int32(i))
			}
		}
		if q.left[i] == 0 {
			ready = append(ready, s)
		}
	}
	// Queue every step ready at the start before any slot is handed out.
	for _, s := range ready {
		q.reserve(s)
	}
	q.jobs = jobs
	return q
}

// start hands out the slots, spawning the first steps.
func (q *readyQueue) start(spawn func(s *plan.Step)) {
	q.spawn = spawn
	q.cpu.add(q.jobs)
	q.gpu.add(1)
}

// reserve queues the ready step s; its goroutine is spawned when it gets
// a slot, so a run holds a goroutine per running step, not per step.
func (q *readyQueue) reserve(s *plan.Step) {
	q.slot(s.Index).reserve(s.Index, q.prio[s.Index], func() { q.spawn(s) })
}

func (q *readyQueue) slot(i int) *slots {
	if q.gpuStep[i] {
		return q.gpu
	}
	return q.cpu
}

// acquire takes a slot for step i (its reserved place in the queue if it
// has one).
func (q *readyQueue) acquire(ctx context.Context, i int) error {
	return q.slot(i).acquire(ctx, i, q.prio[i])
}

// finished queues the users of step s that it made ready; call it before
// s gives its slot back (later calls do nothing).
func (q *readyQueue) finished(s *plan.Step) {
	if q.told[s.Index].Swap(true) {
		return
	}
	for _, u := range q.users[s.Index] {
		if atomic.AddInt32(&q.left[u], -1) == 0 {
			q.reserve(q.steps[u])
		}
	}
}

// drop withdraws step i's place in the queue if it never claimed it (it
// did not run: an input failed, or the run was cancelled).
func (q *readyQueue) drop(i int) { q.slot(i).drop(i) }

// slots is a counting semaphore whose waiters are served in Priority
// order rather than in the order they arrived. A step may reserve its
// place before it asks (see readyQueue).
type slots struct {
	mu       sync.Mutex
	free     int
	q        waiters
	reserved map[int]*waiter
}

func newSlots(n int) *slots { return &slots{free: n, reserved: map[int]*waiter{}} }

type waiter struct {
	p       Priority
	ready   chan struct{} // closed when the slot is handed over
	pos     int           // position in the heap, -1 once removed
	granted func()        // called (under the lock) when it gets the slot
}

type waiters []*waiter

func (w waiters) Len() int           { return len(w) }
func (w waiters) Less(i, j int) bool { return w[i].p.Before(w[j].p) }
func (w waiters) Swap(i, j int) {
	w[i], w[j] = w[j], w[i]
	w[i].pos, w[j].pos = i, j
}
func (w *waiters) Push(x any) {
	e := x.(*waiter)
	e.pos = len(*w)
	*w = append(*w, e)
}
func (w *waiters) Pop() any {
	old := *w
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*w = old[:len(old)-1]
	e.pos = -1
	return e
}

// reserve puts step i in the queue with priority p before it asks for a
// slot; it gets one at once if one is free; granted, when not nil, is
// called when it does.
func (s *slots) reserve(i int, p Priority, granted func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &waiter{p: p, ready: make(chan struct{}), granted: granted}
	s.reserved[i] = w
	heap.Push(&s.q, w)
	s.dispatchLocked()
}

// acquire takes a slot for step i, waiting behind every waiter that comes
// before p (from its reserved place if it has one); it fails only when
// ctx is done first.
func (s *slots) acquire(ctx context.Context, i int, p Priority) error {
	s.mu.Lock()
	w, ok := s.reserved[i]
	if ok {
		delete(s.reserved, i)
	} else {
		w = &waiter{p: p, ready: make(chan struct{})}
		heap.Push(&s.q, w)
		s.dispatchLocked()
	}
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		s.withdrawLocked(w)
		return ctx.Err()
	}
}

// drop withdraws step i's reservation if it never claimed it.
func (s *slots) drop(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.reserved[i]; ok {
		delete(s.reserved, i)
		s.withdrawLocked(w)
	}
}

// withdrawLocked takes w out of the queue, or passes its slot on if it
// was handed one already.
func (s *slots) withdrawLocked(w *waiter) {
	if w.pos < 0 {
		s.free++
		s.dispatchLocked()
		return
	}
	heap.Remove(&s.q, w.pos)
}

// release gives a slot back, to the first waiter if there is one.
func (s *slots) release() { s.add(1) }

// add makes n more slots available.
func (s *slots) add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free += n
	s.dispatchLocked()
}

// dispatchLocked hands the free slots to the first waiters.
func (s *slots) dispatchLocked() {
	for s.free > 0 && len(s.q) > 0 {
		s.free--
		w := heap.Pop(&s.q).(*waiter)
		close(w.ready)
		if w.granted != nil {
			w.granted()
		}
	}
}
