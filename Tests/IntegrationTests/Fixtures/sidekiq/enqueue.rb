# Usage: REDIS_URL=… ruby enqueue.rb
# Fills Mastodon's queues: waiting jobs (latency grows), scheduled jobs, a job for the dead set.
require_relative "jobs"

# Jobs that wait, in queues no worker listens to, so their size and latency are stable.
{"ingress" => 5, "mailers" => 2, "scheduler" => 1, "fasp" => 3}.each do |queue, count|
  count.times { SlowJob.set(queue: queue).perform_async(0) }
end
# Work for the running Sidekiq: two long jobs keep two threads busy.
2.times { SlowJob.set(queue: "default").perform_async(60) }
SlowJob.set(queue: "push").perform_in(3600, 0)
SlowJob.set(queue: "pull").perform_in(7200, 0)
FailingJob.set(queue: "push").perform_async
puts "enqueued"
