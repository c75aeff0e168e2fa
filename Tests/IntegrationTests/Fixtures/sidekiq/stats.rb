# Usage: REDIS_URL=… ruby stats.rb
# Prints what Sidekiq's own API says, one `key value` per line, for the test to compare.
require "sidekiq"
require "sidekiq/api"

Sidekiq::Queue.all.sort_by(&:name).each do |queue|
  puts "queue_size #{queue.name} #{queue.size}"
  puts "queue_latency #{queue.name} #{queue.latency}"
end
stats = Sidekiq::Stats.new
puts "processed #{stats.processed}"
puts "failed #{stats.failed}"
puts "scheduled #{stats.scheduled_size}"
puts "retry #{stats.retry_size}"
puts "dead #{stats.dead_size}"
processes = Sidekiq::ProcessSet.new
puts "processes #{processes.size}"
puts "busy #{processes.sum { |p| p["busy"].to_i }}"
puts "concurrency #{processes.sum { |p| p["concurrency"].to_i }}"
puts "hostname #{processes.first && processes.first["hostname"]}"
puts "work #{Sidekiq::Workers.new.size}"
